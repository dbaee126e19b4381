// Package packaging holds the Debian packages of the broker and the agent:
// systemd units, default configuration, maintainer scripts and the
// build-deb.sh that assembles them with dpkg-deb (make packages). Its test
// builds both packages, checks them with lintian and systemd-analyze, and
// installs, removes and purges them in a throwaway root.
package packaging
