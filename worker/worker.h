#pragma once
namespace proxyd::worker {

// Entry point of a worker: argv = <exe> __worker <control fd> <generation> <index> [-d] [-q].
// Receives its configuration and listeners from the master, drops privileges, serves.
int worker_main(int argc, char** argv);

}  // namespace proxyd::worker
