// Package faulttest holds fault-injection tests of durable jobs against real
// processes and a real Pulsar broker: `magnetar serve` killed with SIGKILL
// mid-run and restarted, a broker stopped and started under a running job,
// and job failures (incompatible output schema, oversized messages,
// transaction timeouts) that must surface in SHOW JOBS and the log.
//
// The tests skip without a broker (see internal/testbroker). Sizes and
// switches come from the environment:
//
//	MAGNETAR_FAULT_EVENTS            Nexmark events generated (default 150000)
//	MAGNETAR_FAULT_SECONDS           seconds the generator spreads them over (default 30)
//	MAGNETAR_FAULT_BROKER_RESTART    "0" skips the test that starts a second broker
//	MAGNETAR_FAULT_BROKER_PORT       its binary protocol port (default: a free one)
//	MAGNETAR_FAULT_BROKER_HTTP_PORT  its admin port (default: a free one)
//	MAGNETAR_FAULT_BROKER_OUTAGE     seconds it stays away at least (default 70)
//
// Servers run with MAGNETAR_JOBS_NAMESPACE set to the test's namespace, so
// they never pick up jobs of other tests or users, and with a 2s checkpoint
// interval and 15s transaction timeout (see jobs.EnvCheckpointInterval).
//
// Exactly-once output is audited as a plain reader sees it: every source row
// exactly once (the vendored client marks transactional messages, so the
// broker filters aborted ones: third_party/pulsar-client-go).
//
// The package has no non-test code besides this comment.
package faulttest
