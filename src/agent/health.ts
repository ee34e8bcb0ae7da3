// Per-service health for /readyz and heartbeats (reference §11.1).

export type Status = "initializing" | "healthy" | "unhealthy";

export class Health {
  private readonly services = new Map<string, { status: Status; reason?: string }>();
  register(name: string): void {
    this.services.set(name, { status: "initializing" });
  }
  set(name: string, status: Status, reason?: string): void {
    this.services.set(name, reason ? { status, reason: reason.slice(0, 256) } : { status });
  }
  overall(): Status {
    const all = [...this.services.values()].map((s) => s.status);
    if (all.includes("unhealthy")) return "unhealthy";
    if (all.includes("initializing")) return "initializing";
    return "healthy";
  }
  get(name: string) {
    return this.services.get(name);
  }
  snapshot() {
    return { status: this.overall(), services: Object.fromEntries(this.services) };
  }
}
