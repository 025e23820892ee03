// What every engine shares about connection strings: how they appear in messages.

/** `scheme://user:secret@host/…` → `scheme://user:***@host/…` (any scheme, several hosts too), for messages. */
export function redactUrl(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/[^:/@]*):[^@/]*@/i, "$1:***@");
}
