// Package upload receives lesson videos with the tus 1.0 resumable upload
// protocol (github.com/tus/tusd/v2), so a teacher's upload from school wifi
// survives dropped connections, closed laptops and server restarts.
//
// Uploads is an http.Handler to mount under one base path (for example
// /api/v1/uploads/). It adds what filmroom needs around tusd:
//
//   - every request is authorized (Config.Authorize) and only the user who
//     created an upload may query, continue or cancel it; other users get
//     404 so upload IDs leak nothing;
//   - creation is validated with the declared size and metadata
//     (Config.Validate) and rejected with a message a person understands;
//   - each finished upload is hashed (SHA-256, streamed, constant memory) and
//     handed to Config.Completed by a fixed number of workers;
//   - Sweep removes abandoned, unfinished uploads.
//
// State lives with the data (tusd's filestore in a folder, or its s3store
// in a bucket), so a restarted server continues where it stopped.
//
// Delivery of Completed is at-least-once: a completion that did not succeed
// (error, crash, Close) is retried when the next Uploads starts over the same
// storage, and with several nodes on one bucket two nodes may both deliver a
// recovered upload. Completed must therefore be idempotent per UploadID. A
// completed upload stays in storage until Finished.Remove is called.
//
// Limits: upload locks are in-process (tusd's memorylocker), so with several
// nodes on one S3 bucket the requests of one upload must reach one node at a
// time (sticky routing, or a client that does not PATCH in parallel, which tus
// clients never do). Deferred lengths and concatenation are not offered: the
// size must be known at creation to validate it.
//
// Requests for one upload are served one at a time: a new request (the
// client resuming) first asks tusd's lock holder to stop, then waits for it.
// With the local filestore a stalled PATCH stops at once; with s3store it
// stops only at tusd's 60 s network timeout, so a resume after a silent
// network drop can wait up to a minute on S3.
package upload
