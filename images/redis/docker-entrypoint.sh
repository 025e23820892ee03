#!/bin/sh
# As the official redis image: `image --flag` means `redis-server --flag`; protected mode off unless
# the config file or the flags set it (a container's port is published only on purpose); as root,
# /data is given to the redis user and the server runs as that user.
set -e
case "$1" in -*|*.conf) set -- redis-server "$@" ;; esac
if [ "$1" = redis-server ]; then
  case " $* " in
    *" --protected-mode "*) ;;
    *) if ! { [ -f "${2:-}" ] && grep -q '^protected-mode' "$2"; }; then set -- "$@" --protected-mode no; fi ;;
  esac
  if [ "$(id -u)" = 0 ]; then
    find . \! -user redis -exec chown redis '{}' +
    exec setpriv --reuid=redis --regid=redis --init-groups "$0" "$@"
  fi
fi
umask 0077
exec "$@"
