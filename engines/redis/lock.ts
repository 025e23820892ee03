// One warmup at a time per target: a lock key (SET NX PX) holding a random token, the owner and
// when it was taken. Its expiry is short and renewed while the warmup runs, so a crashed warmup
// blocks the next one for at most `ttlMs`. Renewal and release compare the token first (a Lua
// compare-and-set): a warmup whose lock expired (paused too long) cannot extend or delete the
// next holder's lock, and it checks the lock is still its own — with time left — right before it
// writes the markers, so a warmup that lost its lock never marks the cache complete.
import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import type { Cluster, Redis } from "ioredis";

const RENEW = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) else return 0 end`;
const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end`;

export interface LockValue {
  token: string;
  owner: string;
  since: string;
}

/** A second warmup found the lock taken and did not get it within its wait. */
export class WarmupLockedError extends Error {
  constructor(
    readonly key: string,
    readonly holder: LockValue | undefined,
    readonly expiresInMs: number,
    waitedMs: number,
  ) {
    super(
      `another warmup holds the lock ${key}${holder ? `: ${holder.owner}, since ${holder.since}` : ""} ` +
        `(it expires in ${Math.max(0, Math.ceil(expiresInMs / 1000))} s unless renewed); waited ${Math.round(waitedMs / 1000)} s. ` +
        `Run again when it has finished (a crashed holder's lock expires by itself).`,
    );
    this.name = "WarmupLockedError";
  }
}

function parse(raw: string | null): LockValue | undefined {
  if (raw === null) return undefined;
  try {
    return JSON.parse(raw) as LockValue;
  } catch {
    return { token: raw, owner: "unknown (unreadable lock value)", since: "?" };
  }
}

export interface LockOptions {
  /** Lock expiry, renewed every third of it. Default 30 s. */
  ttlMs?: number;
  /** How long to wait for a held lock before failing. Default 60 s. */
  waitMs?: number;
  /** Who we are, for the other warmup's error message. Default `nexus-db warmup, pid N on HOST`. */
  owner?: string;
}

export class WarmupLock {
  private lostTo: LockValue | null | undefined;
  private timer: NodeJS.Timeout | undefined;
  private renewing: Promise<void> = Promise.resolve();

  private constructor(
    private readonly redis: Redis | Cluster,
    readonly key: string,
    private readonly raw: string,
    private readonly ttlMs: number,
  ) {}

  /** Takes the lock, waiting (polling) up to `waitMs` while another warmup holds it. */
  static async acquire(redis: Redis | Cluster, key: string, options: LockOptions = {}): Promise<WarmupLock> {
    const ttlMs = options.ttlMs ?? 30_000;
    const waitMs = options.waitMs ?? 60_000;
    const value: LockValue = {
      token: randomBytes(16).toString("hex"),
      owner: options.owner ?? `nexus-db warmup, pid ${process.pid} on ${hostname()}`,
      since: new Date().toISOString(),
    };
    const raw = JSON.stringify(value);
    const started = Date.now();
    for (let delay = 100; ; delay = Math.min(delay * 2, 1000)) {
      if ((await redis.set(key, raw, "PX", ttlMs, "NX")) === "OK") {
        const lock = new WarmupLock(redis, key, raw, ttlMs);
        lock.timer = setInterval(() => (lock.renewing = lock.renew().catch(() => undefined)), Math.max(100, Math.floor(ttlMs / 3)));
        lock.timer.unref();
        return lock;
      }
      const waited = Date.now() - started;
      if (waited >= waitMs) {
        const [holder, pttl] = await Promise.all([redis.get(key), redis.pttl(key)]);
        throw new WarmupLockedError(key, parse(holder), pttl, waited);
      }
      await new Promise((r) => setTimeout(r, Math.min(delay, Math.max(10, waitMs - waited))));
    }
  }

  /** Extends the lock; records (and throws) if it is no longer ours. */
  async renew(ttlMs = this.ttlMs): Promise<void> {
    if (this.lostTo !== undefined) throw this.lostError();
    const ok = Number(await this.redis.eval(RENEW, 1, this.key, this.raw, String(ttlMs)));
    if (ok !== 1) {
      this.lostTo = parse(await this.redis.get(this.key)) ?? null;
      throw this.lostError();
    }
  }

  private lostError(): Error {
    const by = this.lostTo ? ` to ${this.lostTo.owner} (since ${this.lostTo.since})` : " (it expired)";
    return new Error(`this warmup lost its lock ${this.key}${by}: it stops without writing a marker`);
  }

  /**
   * Right before the markers: the lock is still ours and has at least `marginMs` left (it is
   * extended to that), so no other warmup can start writing while the markers go in.
   */
  async confirm(marginMs = Math.max(this.ttlMs, 10_000)): Promise<void> {
    await this.renewing;
    await this.renew(marginMs);
  }

  /** Deletes the lock if it is still ours. */
  async release(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.renewing;
    await this.redis.eval(RELEASE, 1, this.key, this.raw).catch(() => undefined);
  }
}
