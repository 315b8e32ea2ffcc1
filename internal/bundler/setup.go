package bundler

// depsSetup is the dependencies overlay's setup.sh (POSIX sh, sourced). It
// puts the unpacked Debian packages first on the search paths: programs
// (usr/bin, bin, usr/sbin, sbin), shared libraries (usr/lib and lib, with
// their multiarch directories), Python packages (usr/lib/python3/
// dist-packages, for an interpreter that is not the bundle's own; a
// bundled python3 finds them by itself), ROS 1 packages as Debian installs
// them (usr/share on ROS_PACKAGE_PATH, usr on CMAKE_PREFIX_PATH, where
// roslaunch finds node executables such as lib/rosout/rosout), and sources
// any ROS distribution installed under opt/ros (Ubuntu's packages.ros.org
// layout) with that directory as its prefix.
const depsSetup = `# setup.sh of a dependencies overlay written by fleetsync-bundle.
# Source it with BUNDLE_CURRENT_PREFIX (or COLCON_BUNDLE_PREFIX) set to the
# overlay's directory, as fleetsync-agent and AWS RoboMaker do.
_fsb_p="${BUNDLE_CURRENT_PREFIX:-$COLCON_BUNDLE_PREFIX}"
if [ -z "$_fsb_p" ]; then
  echo "setup.sh: set BUNDLE_CURRENT_PREFIX to the overlay's directory" >&2
  return 1 2>/dev/null || exit 1
fi
_fsb_prepend() {
  [ -d "$2" ] || return 0
  eval "_fsb_v=\"\${$1}\""
  if [ -z "$_fsb_v" ]; then eval "$1=\"\$2\""; else eval "$1=\"\$2:\$_fsb_v\""; fi
  eval "export $1"
}
for _fsb_d in sbin usr/sbin bin usr/bin; do _fsb_prepend PATH "$_fsb_p/$_fsb_d"; done
for _fsb_d in "$_fsb_p"/lib "$_fsb_p"/lib/*-linux-gnu* "$_fsb_p"/usr/lib "$_fsb_p"/usr/lib/*-linux-gnu*; do
  _fsb_prepend LD_LIBRARY_PATH "$_fsb_d"
done
_fsb_prepend PYTHONPATH "$_fsb_p/usr/lib/python3/dist-packages"
if [ -d "$_fsb_p/usr/share/ros-environment" ] || [ -d "$_fsb_p/usr/share/roslaunch" ] || [ -d "$_fsb_p/usr/share/rospy" ]; then
  _fsb_prepend ROS_PACKAGE_PATH "$_fsb_p/usr/share"
fi
_fsb_prepend CMAKE_PREFIX_PATH "$_fsb_p/usr"
for _fsb_d in "$_fsb_p"/opt/ros/*; do
  if [ -f "$_fsb_d/setup.sh" ]; then
    _CATKIN_SETUP_DIR="$_fsb_d" AMENT_CURRENT_PREFIX="$_fsb_d" . "$_fsb_d/setup.sh"
  fi
done
unset _fsb_p _fsb_d _fsb_v
unset -f _fsb_prepend
`

// workspaceSetup is the workspace overlay's setup.sh: it sources the
// colcon install space's own local_setup.sh (which sets up every package
// of it: ROS_PACKAGE_PATH, AMENT_PREFIX_PATH, PYTHONPATH, PATH …) with
// COLCON_CURRENT_PREFIX pointing at where the install space now is, so the
// build machine's paths baked into it do not matter.
const workspaceSetup = `# setup.sh of a workspace overlay written by fleetsync-bundle.
_fsb_w="${BUNDLE_CURRENT_PREFIX:-$COLCON_BUNDLE_PREFIX}"
if [ -z "$_fsb_w" ]; then
  echo "setup.sh: set BUNDLE_CURRENT_PREFIX to the overlay's directory" >&2
  return 1 2>/dev/null || exit 1
fi
_fsb_w="$_fsb_w/` + WorkspaceDir + `"
if [ -f "$_fsb_w/local_setup.sh" ]; then
  COLCON_CURRENT_PREFIX="$_fsb_w"
  export COLCON_CURRENT_PREFIX
  . "$_fsb_w/local_setup.sh"
  unset COLCON_CURRENT_PREFIX
elif [ -f "$_fsb_w/setup.sh" ]; then
  _CATKIN_SETUP_DIR="$_fsb_w" . "$_fsb_w/setup.sh"
fi
unset _fsb_w
`
