// A persistent pool of worker threads for data-parallel kernels: workers spin briefly between jobs (decode
// issues hundreds of small jobs per token, so waking sleeping threads would dominate), then sleep.
#ifndef TOKENPRESS_THREADPOOL_H
#define TOKENPRESS_THREADPOOL_H

/// A job: called once per chunk index in [0, chunks), from any pool thread or the caller.
typedef void (*tp_job_fn)(void *context, int chunk);

/// Sets the number of threads (the caller counts as one); starts workers on first use. Returns the count in effect.
int tp_pool_set_threads(int threads);

/// Runs job(context, i) for every i in [0, chunks) across the pool and returns when all have finished.
/// Jobs must not call tp_pool_run themselves (nested calls run serially on the calling thread).
void tp_pool_run(tp_job_fn job, void *context, int chunks);

#endif
