#pragma once
// The master's own capabilities: it keeps only what it still needs (see docs/architecture.md).
namespace proxyd::master {

// When running as root: reduces the effective and permitted sets to the master's needs
// (libcap-ng, v3 ABI). The bounding set is left alone so that workers, exec'd as root,
// can still chroot, setuid and keep their `setcap` list before dropping everything.
void drop_master_capabilities();

}  // namespace proxyd::master
