#!/usr/bin/env bash
# Builds the project's own images for the docker stacks where image registries cannot be reached:
# a Debian base made with `debootstrap --variant=minbase` + `docker import`, then the Dockerfiles
# under images/ (PostgreSQL, Redis, Redis Commander, Mongo Express, and the scheduled backups' image
# with this project's CLI), each keeping the contract of
# the official image the components rely on. Every image is tagged by a hash of its build context
# (and of its base), so it is built once and reused; a changed Dockerfile gives a new tag.
#   bash scripts/images.sh            ensure the engine, build what is missing, print timings
#   bash scripts/images.sh refs       print the image references as JSON (builds what is missing)
#   bash scripts/images.sh config S   set stack S's image keys to these images (`pulumi config set`)
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$NEXUS_ROOT"

IMAGES=(postgres redis redis-commander mongo-express backup)
# The backup image holds this project's CLI: these sources are part of its build context.
BACKUP_SOURCES=(bin cli config engines mongo redis sql scripts/env-file.ts tsconfig.json)
SUITE=bookworm
MIRROR="${NEXUS_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
BASE_CACHE="$NEXUS_CACHE/images"

log() { printf '[images] %s\n' "$*" >&2; }
die() { printf '[images] error: %s\n' "$*" >&2; exit 1; }

hash_of() { sha256sum | cut -c1-12; }

# Root for debootstrap and apt: ourselves, or passwordless sudo (CI runners).
as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"
  elif sudo -n true 2>/dev/null; then sudo -n "$@"
  else die "$1 needs root (or passwordless sudo): run as root, or import a Debian $SUITE image as $(base_tag) yourself"
  fi
}

# The base: only its recipe decides its tag (the mirror moves, but a rebuild is then explicit:
# remove the image and the cached tarball).
base_tag() { printf '%s\n' "debootstrap --variant=minbase $SUITE $MIRROR" | hash_of | sed 's/^/nexus-db\/debian:bookworm-/'; }

# A context's tag: its files (names and contents) and the base it builds on.
context_tag() { # name
  local dir="images/$1"
  { base_tag; (cd "$dir" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum)
    if [ "$1" = backup ]; then find "${BACKUP_SOURCES[@]}" -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum; fi
  } | hash_of | sed "s/^/nexus-db\/$1:/"
}

have_image() { docker image inspect "$1" >/dev/null 2>&1; }

ensure_base() {
  local tag tarball t0
  tag="$(base_tag)"
  have_image "$tag" && return 0
  mkdir -p "$BASE_CACHE"
  tarball="$BASE_CACHE/debian-$SUITE-minbase-${tag##*-}.tar"
  if [ ! -s "$tarball" ]; then
    if ! command -v debootstrap >/dev/null || [ ! -s /usr/share/keyrings/debian-archive-keyring.gpg ]; then
      log "installing debootstrap (apt-get)"
      apt_install debootstrap debian-archive-keyring || die "apt-get install debootstrap failed"
    fi
    local root
    root="$(mktemp -d "$BASE_CACHE/rootfs.XXXXXX")"
    log "debootstrap --variant=minbase $SUITE ($MIRROR)"
    t0=$SECONDS
    as_root debootstrap --keyring=/usr/share/keyrings/debian-archive-keyring.gpg --variant=minbase "$SUITE" "$root" "$MIRROR" >"$BASE_CACHE/debootstrap.log" 2>&1 \
      || { tail -20 "$BASE_CACHE/debootstrap.log" >&2; as_root rm -rf "$root"; die "debootstrap failed (log: $BASE_CACHE/debootstrap.log)"; }
    # Smaller and reproducible enough: no package lists or caches in the base.
    as_root sh -c "rm -rf '$root'/var/lib/apt/lists/* '$root'/var/cache/apt/*.bin '$root'/var/cache/apt/archives/*.deb"
    as_root tar -C "$root" --numeric-owner -cf "$tarball.tmp" . && as_root chown "$(id -u):$(id -g)" "$tarball.tmp" && mv "$tarball.tmp" "$tarball"
    as_root rm -rf "$root"
    log "debootstrap: $((SECONDS - t0)) s"
  fi
  t0=$SECONDS
  docker import --change 'CMD ["bash"]' --change 'ENV LANG=C.UTF-8' "$tarball" "$tag" >/dev/null
  log "base $tag imported in $((SECONDS - t0)) s"
}

# The build context: images/<name> as it is, or, for a Node.js tool (a package-lock.json), a copy
# with app/ holding the package installed by the host's npm (the npm registry is reached the way
# the project's own `npm ci` reaches it; containers may not trust the same certificates).
build_context() { # name tag
  local name=$1 tag=$2 ctx
  if [ ! -f "images/$name/package-lock.json" ]; then echo "images/$name"; return; fi
  ctx="$BASE_CACHE/context-$name-${tag##*:}"
  if [ ! -d "$ctx/app/node_modules" ]; then
    rm -rf "$ctx" && mkdir -p "$ctx/app"
    cp -R "images/$name/." "$ctx/"
    cp "images/$name/package.json" "images/$name/package-lock.json" "$ctx/app/"
    # The backup image runs tsx, whose esbuild binary is an optional package of the platform's.
    local omit=(--omit=optional); [ "$name" = backup ] && omit=()
    (cd "$ctx/app" && npm ci --omit=dev "${omit[@]}" --ignore-scripts --no-audit --no-fund --loglevel=error >&2) \
      || { rm -rf "$ctx"; die "npm ci for images/$name failed"; }
    if [ "$name" = backup ]; then
      for src in "${BACKUP_SOURCES[@]}"; do mkdir -p "$ctx/app/$(dirname "$src")" && cp -R "$src" "$ctx/app/$src"; done
      # The project's own package.json names the CLI's version; its dependencies are the image's.
      node -e 'const p=require("./package.json"), i=require(process.argv[1]); i.version=p.version; i.name="nexus-db"; require("fs").writeFileSync(process.argv[1], JSON.stringify(i, null, 2))' "$ctx/app/package.json"
    fi
  fi
  echo "$ctx"
}

ensure_image() { # name
  local name=$1 tag t0 ctx
  tag="$(context_tag "$name")"
  if have_image "$tag"; then return 0; fi
  log "building $tag"
  t0=$SECONDS
  mkdir -p "$NEXUS_RUN"
  ctx="$(build_context "$name" "$tag")"
  docker build --force-rm --build-arg "BASE=$(base_tag)" -t "$tag" "$ctx" >"$NEXUS_RUN/image-$name.log" 2>&1 \
    || { tail -30 "$NEXUS_RUN/image-$name.log" >&2; die "docker build of images/$name failed (log: $NEXUS_RUN/image-$name.log)"; }
  log "built $tag in $((SECONDS - t0)) s"
}

ensure_all() {
  bash scripts/docker-engine.sh
  local t0=$SECONDS
  ensure_base
  for n in "${IMAGES[@]}"; do ensure_image "$n"; done
  log "images ready ($((SECONDS - t0)) s)"
}

refs_json() {
  printf '{"postgres":"%s","redis":"%s","redisCommander":"%s","mongoExpress":"%s","backup":"%s"}\n' \
    "$(context_tag postgres)" "$(context_tag redis)" "$(context_tag redis-commander)" "$(context_tag mongo-express)" "$(context_tag backup)"
}

case "${1:-build}" in
  build) ensure_all ;;
  refs) ensure_all; refs_json ;;
  config)
    stack="${2:?usage: images.sh config STACK}"
    ensure_all
    pulumi config set --stack "$stack" --path nexus-db:postgres.docker.image "$(context_tag postgres)"
    pulumi config set --stack "$stack" --path nexus-db:redis.docker.image "$(context_tag redis)"
    pulumi config set --stack "$stack" --path nexus-db:docker.devToolImages.redisCommander "$(context_tag redis-commander)"
    pulumi config set --stack "$stack" --path nexus-db:docker.devToolImages.mongoExpress "$(context_tag mongo-express)"
    pulumi config set --stack "$stack" --path nexus-db:backups.image "$(context_tag backup)"
    # pgAdmin cannot be built from packages here, and no mongo image can be had: say what is left.
    pulumi config set --stack "$stack" --path --type bool nexus-db:docker.devToolImages.pgAdmin false
    log "stack $stack uses the local images (pgAdmin left out; Mongo needs mongo.backend external where no mongo image can be pulled)"
    ;;
  *) die "usage: images.sh [build|refs|config STACK]" ;;
esac
