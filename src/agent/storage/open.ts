import type { Destination } from "../config/index.ts";
import { DirectoryStore } from "./directory.ts";
import { MemoryStore, type Store } from "./store.ts";

export function openStore(d: Destination): Store {
  return d.type === "directory" ? new DirectoryStore(d.path) : new MemoryStore();
}
