// Package cluster holds the tests that run against a real MariaDB Galera
// cluster of three nodes (.ci/servers/galera.sh, JOINERY_GALERA_DSNS): what
// joinery's engine detection says of it, and the behaviour of the cluster
// that the run lease of issue 17 fixes (named locks are per node) or relies
// on (writes replicate; conflicting writes from two nodes certify, one
// fails with error 1213). It has no code of its own.
package cluster
