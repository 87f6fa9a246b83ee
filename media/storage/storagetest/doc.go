// Package storagetest is the one test suite every storage.Store
// implementation must pass. Each implementation's tests call Exercise with a
// constructor for a fresh, empty store; adding a behaviour to the suite adds
// it for every store at once.
package storagetest
