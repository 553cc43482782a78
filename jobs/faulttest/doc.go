// Package faulttest holds fault-injection tests of durable jobs against real
// processes and a real Pulsar broker: `magnetar serve` killed with SIGKILL
// mid-run and restarted, a broker stopped and started under a running job,
// and job failures (incompatible output schema, oversized messages,
// transaction timeouts) that must surface in SHOW JOBS and the log.
//
// The tests skip without a broker (see internal/testbroker). Sizes and
// switches come from the environment:
//
//	MAGNETAR_FAULT_EVENTS          Nexmark events generated (default 150000)
//	MAGNETAR_FAULT_SECONDS         seconds the generator spreads them over (default 30)
//	MAGNETAR_FAULT_BROKER_RESTART  "0" skips the test that starts a second broker
//
// The package has no non-test code besides this comment.
package faulttest
