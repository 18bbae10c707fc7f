# shellcheck shell=bash
# Scripts/lib/debian-source.sh: fetch a Debian source package once, unpacked
# with Debian's patches applied, into a cache directory.
#
#   source Scripts/lib/deps.sh Scripts/lib/debian-source.sh
#   dir=$(debian_source_fetch mbedtls "$cache") || exit 1   # -> $cache/mbedtls-2.28.3
#
# - The first run adds a deb-src entry for the same mirrors and suites as the
#   machine's own `deb` entries (/etc/apt/sources.list and
#   /etc/apt/sources.list.d/*.list|*.sources, suites of this Debian release
#   only), as /etc/apt/sources.list.d/camagent-deb-src.sources, and runs
#   apt-get update once. It never touches the existing files.
# - `apt-get source --download-only` puts the .dsc and tarballs in
#   $cache/<package>/; `dpkg-source -x` unpacks them. A stamp file records the
#   unpacked directory: a second run prints it and downloads nothing.
# - On failure it says what is missing (dpkg-dev, the deb-src entry, the
#   network) and returns non-zero. Messages go to stderr; stdout is the path.

if [[ -n "${_CAMAGENT_DEBIAN_SOURCE_SH:-}" ]]; then return 0; fi
_CAMAGENT_DEBIAN_SOURCE_SH=1

DEBIAN_SOURCE_LIST=/etc/apt/sources.list.d/camagent-deb-src.sources

_debsrc_say() { printf 'debian-source: %s\n' "$*" >&2; }

# Prints "URI<TAB>SUITE<TAB>COMPONENTS<TAB>SIGNED-BY" for every `deb` entry of
# this release's suites (one-line and deb822 formats).
_debsrc_binary_entries() {
    local codename
    codename=$(. /etc/os-release 2>/dev/null && printf '%s' "${VERSION_CODENAME:-}")
    [[ -n "$codename" ]] || { _debsrc_say "cannot tell the Debian release (no VERSION_CODENAME in /etc/os-release)"; return 1; }
    local files=()
    [[ -f /etc/apt/sources.list ]] && files+=(/etc/apt/sources.list)
    local f
    for f in /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
        [[ -f "$f" && "$f" != "$DEBIAN_SOURCE_LIST" ]] && files+=("$f")
    done
    ((${#files[@]} > 0)) || return 0
    awk -v codename="$codename" '
        function flush(   n, i, suites, types) {
            if (uris != "" && suites_s != "" && types_s ~ /(^| )deb( |$)/ && enabled != "no") {
                n = split(suites_s, suites, " ")
                for (i = 1; i <= n; i++)
                    if (suites[i] == codename || index(suites[i], codename "-") == 1)
                        emit(uris, suites[i], comps, signed)
            }
            types_s = ""; uris = ""; suites_s = ""; comps = ""; signed = ""; enabled = ""
        }
        function emit(u, s, c, k,   n, i, us) {
            n = split(u, us, " ")
            for (i = 1; i <= n; i++) printf "%s\t%s\t%s\t%s\n", us[i], s, c, k
        }
        FNR == 1 { flush(); deb822 = (FILENAME ~ /\.sources$/) }
        deb822 {
            if ($0 ~ /^[ \t]*$/) { flush(); next }
            if ($0 ~ /^#/) next
            key = tolower($1); sub(/:$/, "", key); val = $0; sub(/^[^:]*:[ \t]*/, "", val)
            if (key == "types") types_s = val
            else if (key == "uris") uris = val
            else if (key == "suites") suites_s = val
            else if (key == "components") comps = val
            else if (key == "signed-by") signed = val
            else if (key == "enabled") enabled = tolower(val)
            next
        }
        /^[ \t]*deb[ \t]/ {
            line = $0; sub(/^[ \t]*deb[ \t]+/, "", line)
            opts = ""
            if (line ~ /^\[/) { opts = line; sub(/\].*/, "", opts); sub(/^\[/, "", opts); sub(/^[^]]*\][ \t]*/, "", line) }
            key = ""
            if (match(opts, /signed-by=[^ ]+/)) key = substr(opts, RSTART + 10, RLENGTH - 10)
            n = split(line, w, /[ \t]+/)
            c = ""; for (i = 3; i <= n; i++) c = c (c == "" ? "" : " ") w[i]
            if (w[2] == codename || index(w[2], codename "-") == 1) emit(w[1], w[2], c, key)
        }
        END { flush() }
    ' "${files[@]}"
}

# True if apt already knows a deb-src entry for this release.
_debsrc_have_entry() {
    [[ -f "$DEBIAN_SOURCE_LIST" ]] && return 0
    grep -rqsE '^[[:space:]]*(deb-src[[:space:]]|Types:.*deb-src)' /etc/apt/sources.list /etc/apt/sources.list.d/
}

# Writes $DEBIAN_SOURCE_LIST from the binary entries and runs apt-get update.
debian_source_enable() {
    _debsrc_have_entry && return 0
    local entries
    entries=$(_debsrc_binary_entries) || return 1
    if [[ -z "$entries" ]]; then
        _debsrc_say "no 'deb' entry for this Debian release in /etc/apt/sources.list(.d); add one (or a deb-src entry) first"
        return 1
    fi
    local tmp uri suite comps signed
    tmp=$(mktemp)
    {
        echo "# Added by camagent (Scripts/lib/debian-source.sh): source packages from the"
        echo "# same mirrors and suites as the deb entries, for building mbedTLS against musl."
        while IFS=$'\t' read -r uri suite comps signed; do
            echo
            echo "Types: deb-src"
            echo "URIs: $uri"
            echo "Suites: $suite"
            echo "Components: ${comps:-main}"
            [[ -n "$signed" ]] && echo "Signed-By: $signed"
        done <<<"$entries"
    } >"$tmp"
    _debsrc_say "adding $DEBIAN_SOURCE_LIST (deb-src for: $(cut -f1,2 <<<"$entries" | tr '\t\n' ' ;' | sed 's/;$//;s/;/; /g'))"
    if ! _deps_as_root install -m 0644 "$tmp" "$DEBIAN_SOURCE_LIST"; then
        rm -f "$tmp"
        _debsrc_say "cannot write $DEBIAN_SOURCE_LIST (need root)"
        return 1
    fi
    rm -f "$tmp"
    deps_apt_update || true
}

# debian_source_fetch PACKAGE CACHE_DIR: prints the unpacked source directory.
debian_source_fetch() {
    local pkg=$1 cache=$2
    local dir=$cache/$pkg stamp=$cache/$pkg/.unpacked
    if [[ -f "$stamp" ]]; then
        local unpacked
        unpacked=$(cat "$stamp")
        if [[ -d "$dir/$unpacked" ]]; then
            printf '%s\n' "$dir/$unpacked"
            return 0
        fi
    fi
    ensure_debian_packages dpkg-dev || {
        _debsrc_say "dpkg-dev is needed to unpack Debian source packages: apt-get install dpkg-dev"
        return 1
    }
    mkdir -p "$dir"
    local dsc
    dsc=$(find "$dir" -maxdepth 1 -name "${pkg}_*.dsc" | LC_ALL=C sort | tail -n 1)
    if [[ -z "$dsc" ]]; then
        debian_source_enable || return 1
        _debsrc_say "downloading the Debian source package $pkg into $dir"
        local log
        log=$(mktemp)
        if ! (cd "$dir" && apt-get -q source --download-only "$pkg") >"$log" 2>&1; then
            # The index may predate the deb-src entry (or an update failed): once more after an update.
            deps_apt_update || true
            if ! (cd "$dir" && apt-get -q source --download-only "$pkg") >"$log" 2>&1; then
                _debsrc_say "could not download the Debian source package '$pkg':"
                grep -E '^(E|W):' "$log" | head -n 5 >&2 || tail -n 5 "$log" >&2
                _debsrc_say "needs network access to the Debian mirror and a deb-src entry ($DEBIAN_SOURCE_LIST);"
                _debsrc_say "or put ${pkg}_*.dsc and its tarballs (from 'apt-get source --download-only $pkg' elsewhere) into $dir"
                rm -f "$log"
                return 1
            fi
        fi
        rm -f "$log"
        dsc=$(find "$dir" -maxdepth 1 -name "${pkg}_*.dsc" | LC_ALL=C sort | tail -n 1)
        [[ -n "$dsc" ]] || { _debsrc_say "apt-get source $pkg left no .dsc in $dir"; return 1; }
    fi
    # Unpack into a fresh directory named after the .dsc's version.
    local version unpacked
    version=$(awk '/^Version:/ {print $2; exit}' "$dsc")
    version=${version#*:}
    unpacked="$pkg-${version%-*}"
    rm -rf "${dir:?}/$unpacked"
    if ! dpkg-source -x "$dsc" "$dir/$unpacked" >/dev/null 2>&1; then
        _debsrc_say "dpkg-source could not unpack $dsc (delete $dir to download it again)"
        return 1
    fi
    printf '%s\n' "$unpacked" >"$stamp"
    _debsrc_say "unpacked $dir/$unpacked"
    printf '%s\n' "$dir/$unpacked"
}
