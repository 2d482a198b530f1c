// Package flinkconf reads Apache Flink configuration files and derives the
// TaskManager and JobManager memory layout exactly as Flink 2.3 does
// (TaskExecutorProcessUtils, JobManagerProcessUtils, ProcessMemoryUtils,
// ManagedMemoryUtils), byte for byte, failing where Flink fails with the
// same message.
//
// On top of the derivation it plans the memory of flinkfn's UDF workers
// (and, for comparison, of the stock PyFlink Python worker) and gives a
// verdict for a TaskManager container: fits, will be OOM-killed, or wastes
// memory, with settings that fit the same container.
//
// The package is a leaf: it imports nothing else from this module.
// Its agreement with Flink itself is checked by integration/memcheck (Java,
// runs Flink's own classes over testdata/corpus and writes
// testdata/flink-results.json) and by TestAgainstFlinkResults (Go).
package flinkconf
