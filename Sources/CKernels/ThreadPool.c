// See include/ThreadPool.h.
#include "ThreadPool.h"

#include <pthread.h>
#include <stdatomic.h>
#include <sched.h>
#include <time.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define TP_PAUSE() _mm_pause()
#else
#define TP_PAUSE() ((void)0)
#endif

enum { TP_MAX_THREADS = 256, TP_SPIN_ROUNDS = 200000 };

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake = PTHREAD_COND_INITIALIZER;
static pthread_mutex_t run_lock = PTHREAD_MUTEX_INITIALIZER;  // one job at a time
static int thread_count = 1;   // including the caller
static int workers_started = 0;
static atomic_int generation;   // bumped for every job
static atomic_int sleepers;
// One word says which job runs, how many chunks it has and which chunk is next: job number (bits 32–63), chunk
// count (16–31), next unclaimed chunk (0–15). A worker claims a chunk only by advancing the word it read, so the
// count it compares with and the job it runs always belong together: a worker still leaving one job cannot take a
// chunk of the next (with a separate counter and count it once ran a chunk of the next job twice and counted it,
// and the caller could return while a chunk still ran: "closure argument was escaped").
static _Atomic unsigned long long ticket;
static unsigned int job_number;
static atomic_int finished_chunks;
static _Atomic(tp_job_fn) current_job;
static _Atomic(void *) current_context;
static _Thread_local int inside_job;

static void work(void) {
    inside_job = 1;
    for (;;) {
        unsigned long long seen = atomic_load_explicit(&ticket, memory_order_acquire);
        const int chunks = (int)((seen >> 16) & 0xFFFF);
        const int chunk = (int)(seen & 0xFFFF);
        if (chunk >= chunks) break;
        // The job's function and context, published before its ticket; still this job's if the claim succeeds,
        // since the next job is published only after every chunk of this one is claimed and finished.
        const tp_job_fn job = atomic_load_explicit(&current_job, memory_order_relaxed);
        void *const context = atomic_load_explicit(&current_context, memory_order_relaxed);
        if (!atomic_compare_exchange_weak_explicit(&ticket, &seen, seen + 1, memory_order_acq_rel,
                                                   memory_order_acquire)) continue;
        job(context, chunk);
        atomic_fetch_add_explicit(&finished_chunks, 1, memory_order_acq_rel);
    }
    inside_job = 0;
}

static void *worker(void *argument) {
    const int index = (int)(long)argument;  // workers 0 … thread_count − 2 take part; others stay idle
    int seen = atomic_load(&generation);
    for (;;) {
        int spins = 0;
        while (atomic_load_explicit(&generation, memory_order_acquire) == seen) {
            if (++spins < TP_SPIN_ROUNDS) { TP_PAUSE(); continue; }
            pthread_mutex_lock(&lock);
            atomic_fetch_add(&sleepers, 1);
            while (atomic_load(&generation) == seen) pthread_cond_wait(&wake, &lock);
            atomic_fetch_sub(&sleepers, 1);
            pthread_mutex_unlock(&lock);
        }
        seen = atomic_load_explicit(&generation, memory_order_acquire);
        if (index < thread_count - 1) work();
    }
    return 0;
}

int tp_pool_set_threads(int threads) {
    pthread_mutex_lock(&run_lock);
    if (threads < 1) threads = 1;
    if (threads > TP_MAX_THREADS) threads = TP_MAX_THREADS;
    // Workers already running stay; a smaller count simply leaves some idle (they sleep after spinning).
    thread_count = threads;
    pthread_mutex_unlock(&run_lock);
    return thread_count;
}

static void start_workers(void) {
    while (workers_started < thread_count - 1) {
        pthread_t thread;
        if (pthread_create(&thread, 0, worker, (void *)(long)workers_started) != 0) break;
        pthread_detach(thread);
        workers_started++;
    }
}

void tp_pool_run(tp_job_fn job, void *context, int chunks) {
    if (chunks <= 0) return;
    // (More chunks than the ticket can count run here in the caller: Swift asks for at most 4 per thread.)
    if (inside_job || thread_count <= 1 || chunks == 1 || chunks > 0xFFFF) {
        for (int i = 0; i < chunks; i++) job(context, i);
        return;
    }
    pthread_mutex_lock(&run_lock);
    start_workers();
    atomic_store_explicit(&current_job, job, memory_order_relaxed);
    atomic_store_explicit(&current_context, context, memory_order_relaxed);
    atomic_store(&finished_chunks, 0);
    job_number++;
    atomic_store_explicit(&ticket, (unsigned long long)job_number << 32 | (unsigned long long)chunks << 16,
                          memory_order_release);
    atomic_fetch_add_explicit(&generation, 1, memory_order_release);
    if (atomic_load(&sleepers) > 0) {
        pthread_mutex_lock(&lock);
        pthread_cond_broadcast(&wake);
        pthread_mutex_unlock(&lock);
    }
    work();
    while (atomic_load_explicit(&finished_chunks, memory_order_acquire) < chunks) TP_PAUSE();
    pthread_mutex_unlock(&run_lock);
}
