// Rows as digest records (key, digest, expiry), partitioned by bucket into temporary files as they
// stream by in any order, then read back one partition at a time, bucket by bucket. The
// incremental comparison spills the source's rows by digest bucket (PostgreSQL need not sort them:
// a sort delays its first row until the query is done; writing the files overlaps the query); a
// full warm's stale-key sweep spills the rows' keys and the keys found in Redis by key hash. The
// process holds one partition: about rows / 128 records (≈ 25 bytes each with short keys). A killed
// warmup leaves its directory behind (named with its pid): the next one removes it after an hour.
import { closeSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, statSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { recordSize, writeRecord } from "./digests";

const FLUSH_AT = 64 * 1024;
const PREFIX = "nexus-warmup-";

/** Spill directories of warmups that were killed (their process is gone) and are over an hour old. */
function removeOrphans(under: string): void {
  let names: string[];
  try {
    names = readdirSync(under).filter((n) => n.startsWith(PREFIX));
  } catch {
    return;
  }
  for (const name of names) {
    const pid = Number(/^nexus-warmup-(\d+)-/.exec(name)?.[1]);
    if (!pid || pid === process.pid) continue;
    try {
      process.kill(pid, 0);
      continue; // alive
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "ESRCH") continue;
    }
    try {
      const dir = path.join(under, name);
      if (Date.now() - statSync(dir).mtimeMs > 3600_000) rmSync(dir, { recursive: true, force: true });
    } catch {
      // another warmup removed it first
    }
  }
}

export class BucketSpill {
  private readonly dir: string;
  private readonly shift: number;
  private readonly fds: number[] = [];
  private readonly bufs: Buffer[] = [];
  private readonly lens: number[] = [];

  /** `under`: the directory for the temporary files (default: the OS temp directory). */
  constructor(readonly buckets: number, under = tmpdir(), partitions = Math.min(buckets, 128)) {
    removeOrphans(under);
    this.dir = mkdtempSync(path.join(under, `${PREFIX}${process.pid}-`));
    let shift = 0;
    while (buckets >> shift > partitions) shift++;
    this.shift = shift;
    for (let p = 0; p < (buckets >> shift); p++) {
      this.fds.push(openSync(path.join(this.dir, String(p)), "w+"));
      this.bufs.push(Buffer.allocUnsafe(FLUSH_AT + 1024));
      this.lens.push(0);
    }
  }

  add(bucket: number, key: Buffer, start: number, end: number, d1: number, d2: number, expiresAtMs: number | undefined): void {
    const p = bucket >> this.shift;
    let buf = this.bufs[p];
    const need = 4 + recordSize(end - start);
    if (this.lens[p] + need > buf.length) {
      this.flush(p);
      if (need > buf.length) this.bufs[p] = buf = Buffer.allocUnsafe(need);
    }
    const at = this.lens[p];
    buf.writeUInt32LE(bucket, at);
    this.lens[p] = writeRecord(buf, at + 4, key, start, end, d1, d2, expiresAtMs);
    if (this.lens[p] >= FLUSH_AT) this.flush(p);
  }

  private flush(p: number): void {
    if (this.lens[p] > 0) writeSync(this.fds[p], this.bufs[p], 0, this.lens[p]);
    this.lens[p] = 0;
  }

  /**
   * The spilled rows bucket by bucket, in bucket order (buckets without rows are skipped): each
   * row's offset in `buf`, where it is a digest record ([u16 key length][key][d1][d2][expiry s]).
   */
  *byBucket(): Generator<{ bucket: number; buf: Buffer; offsets: number[] }> {
    for (let p = 0; p < this.fds.length; p++) {
      this.flush(p);
      closeSync(this.fds[p]);
      this.fds[p] = -1;
      const file = path.join(this.dir, String(p));
      const buf = readFileSync(file);
      rmSync(file);
      const first = p << this.shift;
      const groups: number[][] = Array.from({ length: 1 << this.shift }, () => []);
      for (let at = 0; at < buf.length; at += 4 + recordSize(buf.readUInt16LE(at + 4))) groups[buf.readUInt32LE(at) - first].push(at + 4);
      for (let i = 0; i < groups.length; i++) if (groups[i].length > 0) yield { bucket: first + i, buf, offsets: groups[i] };
    }
  }

  /** Removes the files (also after a failure). */
  remove(): void {
    this.fds.forEach((fd, p) => {
      if (fd >= 0) closeSync(fd);
      this.fds[p] = -1;
    });
    rmSync(this.dir, { recursive: true, force: true });
  }
}
