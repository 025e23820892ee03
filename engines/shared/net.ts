// Network facts every layer agrees on: which hosts are this machine.

/** Host names and addresses of this machine's loopback interface. */
export const LOOPBACK_HOSTS: readonly string[] = ["127.0.0.1", "::1", "localhost"];

/** Whether a host (or a bind address) is loopback only. */
export function isLoopback(host: string): boolean {
  return LOOPBACK_HOSTS.includes(host);
}
