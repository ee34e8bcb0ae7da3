// A real nginx for tests: Debian's /usr/sbin/nginx (NGINX_BIN overrides) in the foreground
// (`daemon off`), with a prefix directory of its own (config, pid, logs, temp paths), on a
// free loopback port, stopped by PID. TLS on, and optionally client certificates required
// (`ssl_verify_client on` with `ssl_client_certificate`), which is how an HTTPS service
// checks an `application` output's certificate. `location /` answers 200 with a body that
// names the client certificate's subject, so a test sees which identity nginx accepted.

import { copyFileSync, existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { freePort, type Proc, startProcess, tempDir } from "./proc.ts";

export const nginxBin = () => process.env.NGINX_BIN || "/usr/sbin/nginx";
export const nginxAvailable = () => existsSync(nginxBin());

export interface NginxOptions {
  /** Server certificate and key (PEM files). */
  certFile: string;
  keyFile: string;
  /** CA (PEM) nginx verifies client certificates with; with it, `ssl_verify_client on`. */
  clientCaFile?: string;
  /** `ssl_verify_client` value when clientCaFile is set (default "on"). */
  verifyClient?: "on" | "optional";
  /** Extra directives inside `location /` (before the `return 200`), e.g. a DN check. */
  locationExtra?: string;
}

export interface NginxServer {
  port: number;
  /** https://127.0.0.1:PORT */
  url: string;
  dir: string;
  proc: Proc;
  stop(): Promise<void>;
}

const running = new Set<NginxServer>();

/** Stop every nginx this file started (register with afterAll before cleanupAfterFile). */
export async function stopAllNginx(): Promise<void> {
  await Promise.all([...running].map((s) => s.stop()));
}

export async function startNginx(o: NginxOptions): Promise<NginxServer> {
  if (!nginxAvailable()) throw new Error(`nginx is not installed (${nginxBin()})`);
  const dir = tempDir("nginx-");
  for (const d of ["logs", "tmp", "tls"]) mkdirSync(join(dir, d));
  const cert = join(dir, "tls", "server.crt");
  const key = join(dir, "tls", "server.key");
  copyFileSync(o.certFile, cert);
  copyFileSync(o.keyFile, key);
  let clientTls = "";
  if (o.clientCaFile) {
    const ca = join(dir, "tls", "client-ca.crt");
    copyFileSync(o.clientCaFile, ca);
    clientTls = `    ssl_client_certificate ${ca};\n    ssl_verify_client ${o.verifyClient ?? "on"};\n`;
  }
  const port = await freePort();
  const tmp = join(dir, "tmp");
  const conf = `# test nginx (test/harness/nginx.ts)
${process.getuid?.() === 0 ? "user root;\n" : ""}worker_processes 1;
pid ${join(dir, "nginx.pid")};
error_log ${join(dir, "logs", "error.log")} info;
events { worker_connections 64; }
http {
  access_log ${join(dir, "logs", "access.log")};
  client_body_temp_path ${tmp}/body;
  proxy_temp_path ${tmp}/proxy;
  fastcgi_temp_path ${tmp}/fastcgi;
  uwsgi_temp_path ${tmp}/uwsgi;
  scgi_temp_path ${tmp}/scgi;
  server {
    listen 127.0.0.1:${port} ssl;
    server_name localhost;
    ssl_certificate ${cert};
    ssl_certificate_key ${key};
${clientTls}    location / {
${o.locationExtra ?? ""}      default_type text/plain;
      return 200 "ok $ssl_client_verify $ssl_client_s_dn\\n";
    }
  }
}
`;
  const confFile = join(dir, "nginx.conf");
  writeFileSync(confFile, conf);
  const proc = startProcess([
    nginxBin(),
    "-p",
    dir,
    "-c",
    confFile,
    "-e",
    join(dir, "logs", "error.log"),
    "-g",
    "daemon off;",
  ]);
  const server: NginxServer = {
    port,
    url: `https://127.0.0.1:${port}`,
    dir,
    proc,
    async stop() {
      running.delete(server);
      await proc.stop("SIGQUIT");
    },
  };
  running.add(server);
  await waitListening(port, proc);
  return server;
}

async function waitListening(port: number, proc: Proc): Promise<void> {
  const { connect } = await import("node:net");
  const deadline = Date.now() + 15_000;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect(port, "127.0.0.1", () => {
        s.destroy();
        resolve(true);
      });
      s.on("error", () => resolve(false));
    });
    if (ok) return;
    if (proc.proc.exitCode !== null)
      throw new Error(`nginx exited (${proc.proc.exitCode}):\n${proc.output()}`);
    if (Date.now() > deadline) throw new Error(`nginx did not listen on ${port}:\n${proc.output()}`);
    await Bun.sleep(50);
  }
}
