// The backend contract on PostgreSQL: the same cases as SQLite, each on a fresh schema of a
// database whose own collation is not byte order.

import { backendContract } from "./contract.ts";
import { pgFixture } from "./pg-fixture.ts";

const pg = pgFixture();
backendContract("postgresql", async () => (await pg()).freshBackend());
