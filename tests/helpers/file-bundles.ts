// Reads back the file bundles a store container uploads (components/docker-store.ts: fileBundles):
// each `nexus_db_file <path> <owner> <mode> <content>` record, its words single-quoted by shellQuote.

export interface BundledFile {
  content: string;
  /** "uid:gid mode", as the start script sets them. */
  access: string;
}

/** The words of one shell line as shellQuote writes them: bare words, or '…' pieces joined by \'. */
function words(text: string, from: number, count: number): { words: string[]; end: number } {
  const out: string[] = [];
  let i = from;
  while (out.length < count) {
    while (text[i] === " ") i++;
    let w = "";
    while (i < text.length && text[i] !== " " && text[i] !== "\n") {
      if (text[i] === "'") {
        const close = text.indexOf("'", i + 1);
        if (close < 0) throw new Error(`unterminated quote at ${i}`);
        w += text.slice(i + 1, close);
        i = close + 1;
      } else if (text[i] === "\\") {
        w += text[i + 1];
        i += 2;
      } else w += text[i++];
    }
    out.push(w);
  }
  return { words: out, end: i };
}

/** Every file of the bundles: path → content, owner and mode. */
export function bundledFiles(uploads: unknown): Record<string, BundledFile> {
  const files: Record<string, BundledFile> = {};
  for (const u of uploads as { file: string; content: string }[]) {
    const text = u.content;
    let i = 0;
    while (i < text.length) {
      if (!text.startsWith("nexus_db_file ", i)) throw new Error(`${u.file}: unexpected text at ${i}: ${JSON.stringify(text.slice(i, i + 40))}`);
      const r = words(text, i + "nexus_db_file ".length, 4);
      const [path, owner, mode, content] = r.words;
      files[path] = { content, access: `${owner} ${mode}` };
      i = r.end + 1; // the newline after the record
    }
  }
  return files;
}
