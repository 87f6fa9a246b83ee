// Package testsvc starts or connects to the real services that shared test
// suites run against: PostgreSQL, MinIO and NATS. Outside CI a missing
// service skips the test with a message naming the script that provides it;
// with CI set, a missing service fails the test, because those paths must be
// exercised on every landing.
package testsvc
