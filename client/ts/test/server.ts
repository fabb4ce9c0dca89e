// `tracking serve` as a real process for the tests: SQLite in a temp dir, free ports, and
// SIGKILL + restart on the same port and database.
//
// The server binary defaults to the repository's .venv/bin/tracking; TRACKING_BIN names
// another one.

import { type ChildProcess, spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const HERE = path.dirname(fileURLToPath(import.meta.url));
// dist/test -> client/ts -> the repository
const REPOSITORY = path.resolve(HERE, "..", "..", "..", "..");
export const TRACKING_BIN =
  process.env["TRACKING_BIN"] ?? path.join(REPOSITORY, ".venv", "bin", "tracking");

const SERVING = /serving on (\S+):(\d+)/;
const HTTP_SERVING = /HTTP and dashboard on (https?:\/\/[^/\s]+)\//;

export class TrackingServer {
  readonly directory = fs.mkdtempSync(path.join(os.tmpdir(), "tracking-ts-"));
  address = "";
  /** The HTTP side's base URL (Connect), when started with `http: true`. */
  httpUrl = "";
  private child: ChildProcess | undefined;
  private output = "";

  constructor(
    private readonly env: Record<string, string> = {},
    private readonly options: { http?: boolean } = {},
  ) {}

  get databaseUrl(): string {
    return `sqlite:///${this.directory}/tracking.db`;
  }

  /** Starts the server (on the port it had, after a restart); resolves once it serves. */
  async start(): Promise<this> {
    const requested = this.address || "127.0.0.1:0";
    // Both ports are free ones (or HTTP is off), so the tests pass beside a `make run`.
    const http = ["--http-address", this.options.http ? "127.0.0.1:0" : ""];
    const child = spawn(
      TRACKING_BIN,
      ["serve", "--address", requested, "--database-url", this.databaseUrl, ...http],
      {
        env: {
          ...process.env,
          TRACKING_HEARTBEAT_SECONDS: "0.5",
          TRACKING_LOG_FORMAT: "text",
          ...this.env,
        },
        stdio: ["ignore", "ignore", "pipe"],
      },
    );
    this.child = child;
    this.output = "";
    this.address = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill("SIGKILL");
        reject(new Error(`tracking serve did not start within 60 s:\n${this.output}`));
      }, 60_000);
      const onExit = (code: number | null, signal: string | null) => {
        clearTimeout(timer);
        reject(new Error(`tracking serve exited (${code ?? signal}) before serving:\n${this.output}`));
      };
      child.stderr?.setEncoding("utf8");
      // Keeps reading stderr for the server's whole life, so it never blocks on a full pipe.
      child.stderr?.on("data", (chunk: string) => {
        this.output += chunk;
        const match = SERVING.exec(this.output);
        const httpMatch = HTTP_SERVING.exec(this.output);
        if (httpMatch) this.httpUrl = httpMatch[1] ?? "";
        if (match && (!this.options.http || httpMatch)) {
          clearTimeout(timer);
          child.off("exit", onExit);
          resolve(`${match[1]}:${match[2]}`);
        }
      });
      child.once("exit", onExit);
      child.once("error", (error) => {
        clearTimeout(timer);
        reject(error);
      });
    });
    return this;
  }

  /** SIGKILL: no drain, as when the machine dies. */
  async kill(): Promise<void> {
    await this.signal("SIGKILL");
  }

  /** SIGTERM (a drain), then the temp directory goes. */
  async stop(): Promise<void> {
    await this.signal("SIGTERM");
    fs.rmSync(this.directory, { recursive: true, force: true });
  }

  private async signal(signal: NodeJS.Signals): Promise<void> {
    const child = this.child;
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once("exit", resolve));
    child.kill(signal);
    const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
    await exited;
    clearTimeout(timer);
  }
}

/** Rejects when `promise` takes longer than `ms`. */
export function within<T>(ms: number, promise: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Resolves once `condition()` holds, checking every 20 ms, for at most `ms`. */
export async function waitFor(condition: () => boolean, what: string, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
