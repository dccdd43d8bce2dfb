# Sourced by the scripts in pipelines/: common settings and helpers.
# shellcheck shell=sh disable=SC2034
#   $top       the checkout
#   $launch    build/tools/zc-run when built (prints the elements' stats
#              at EOS), else gst-launch-1.0
#   usage()    prints the script's leading comment block and its options
#   have ELEMENT   true when GStreamer knows ELEMENT
# GST_PLUGIN_PATH gets build/plugins when the plugin was built there and the
# caller did not set it.
top=$(cd "$(dirname "$0")/.." && pwd)
build=${ZC_BUILD:-$top/build}
if [ -z "${GST_PLUGIN_PATH:-}" ] && [ -d "$build/plugins" ]; then
	export GST_PLUGIN_PATH="$build/plugins"
fi
if [ -x "$build/tools/zc-run" ]; then
	launch="$build/tools/zc-run"
else
	launch="gst-launch-1.0 -e"
fi

usage() {
	# The comment block after the shebang, without the leading "# ".
	sed -n '2,/^[^#]/{/^# shellcheck/d;/^#/s/^# \{0,1\}//p}' "$0"
}

# Settings come from the environment or as NAME=VALUE arguments.
for arg in "$@"; do
	case "$arg" in
	-h|--help) usage; exit 0 ;;
	[A-Z]*=*) export "${arg?}" ;;
	*) echo "$(basename "$0"): unknown argument '$arg' (see --help)" >&2; exit 2 ;;
	esac
done

have() { gst-inspect-1.0 "$1" >/dev/null 2>&1; }

need() {
	for e in "$@"; do
		have "$e" || { echo "$(basename "$0"): GStreamer element '$e' not found" >&2; exit 77; }
	done
}
