// The read bandwidth of the sparse op's access pattern, without the op: how fast can the bytes that a Q8_0 decode
// call reads at a given sparsity be read at all, against a sequential read of as many bytes, on this machine?
//
// Layout as ggml_sparse_relayout writes Q8_0 (ggml.h): block column k (input channels 32k .. 32k+31) is n_out*34
// bytes: the fp16 d of all n_out rows, then 32 planes of n_out int8, one per channel. A call reads, per block column
// with an active channel, its header and the planes of its active channels. Channels are active independently with
// probability 1 - sparsity (the op bench draws x from a normal distribution and thresholds |x|: the same thing).
//
// Both reads use the technique of the bench's read probe and of the op's decode kernels: each thread reads its share
// as S streams at once, one cache line of each per step, each line prefetched D bytes ahead along its stream. The
// sequential read (the reference) always uses S = 8, D = 4096, as the op bench's probe; the pattern's S and D are
// the arguments.
// The pattern read gives each thread whole block columns (as the op's column split does at 2 threads), in address
// order. Copies of the weight, together `mb` MiB, are read round robin so that the reads come from DRAM.
//
// build: g++ -O2 -march=native -std=c++17 -pthread pattern_probe.cpp -o pattern_probe
// run:   pattern_probe n_in n_out sparsity threads [streams=8] [dist=4096] [mb=1024] [hugepages=0] [rounds=30] [lockstep=0] [skewed=0] [slots=0]
#include <sys/mman.h>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <thread>
#include <vector>

struct run_t { const uint8_t * p; size_t n; }; // a contiguous byte range, whole cache lines

static uint8_t * alloc_buf(size_t n, bool huge) {
    const size_t align = huge ? (2u << 20) : 64;
    void * p = nullptr;
    if (posix_memalign(&p, align, (n + align - 1)/align*align) != 0) { perror("posix_memalign"); exit(1); }
    if (huge) {
        madvise(p, (n + align - 1)/align*align, MADV_HUGEPAGE);
    }
    memset(p, 1, n);
    return (uint8_t *) p;
}

// read the runs as `streams` streams (the list cut into equal byte shares), a line of each per step, prefetch ahead
static uint64_t read_runs(const std::vector<run_t> & runs, int streams, size_t dist) {
    // flatten into line addresses per stream lazily: a cursor per stream (run index, offset)
    size_t total = 0;
    for (const run_t & r : runs) total += r.n;
    const size_t per = total/64/streams; // lines per stream
    struct cur_t { size_t ri, off; };
    std::vector<cur_t> c(streams), pf(streams);
    // stream k starts at line k*per; its prefetch cursor dist bytes later
    auto seek = [&](size_t line) {
        size_t b = line*64, ri = 0;
        while (ri < runs.size() && b >= runs[ri].n) { b -= runs[ri].n; ri++; }
        return cur_t{ri, b};
    };
    for (int k = 0; k < streams; k++) {
        c[k]  = seek(k*per);
        pf[k] = seek(std::min(total/64 - 1, k*per + dist/64));
    }
    auto step = [&](cur_t & q) { q.off += 64; if (q.off >= runs[q.ri].n) { q.off = 0; q.ri++; } };
    uint64_t s[64] = {};
    for (size_t j = 0; j < per; j++) {
        for (int k = 0; k < streams; k++) {
            if (pf[k].ri < runs.size()) {
                __builtin_prefetch(runs[pf[k].ri].p + pf[k].off, 0, 3);
                step(pf[k]);
            }
            const uint64_t * l = (const uint64_t *) (runs[c[k].ri].p + c[k].off);
            s[k] += (l[0] + l[1]) + (l[2] + l[3]) + (l[4] + l[5]) + (l[6] + l[7]);
            step(c[k]);
        }
    }
    uint64_t t = 0;
    for (int k = 0; k < streams; k++) t += s[k];
    return t;
}

// the op's order instead (lockstep > 0): per block column, passes of 8 active planes read together in tiles of 64 rows
// (64 bytes of each plane; the 128 header bytes of those rows in a column's last pass), a prefetch cursor `lockstep`
// tiles ahead across passes and columns (the op's default: 8 tiles, ~4 KiB of weight data). skewed: plane e of a
// pass is read at tile (j + e*T/8) mod T instead of j, so that the 8 streams sit at different page offsets.
// The addresses are computed per step from a short list of passes (a list of every line would add its own reads)
struct pass_t {
    const uint8_t * planes[8];
    int             n;
    const uint8_t * h; // the column's header arrays (its last pass), else null
};

// slots: the planes of a column go to the passes so that each of the 8 slots (streams) reads consecutive active planes
// from pass to pass (slot e: active planes e*m .. e*m + m-1 for m passes), instead of pass p = planes 8p .. 8p+7
static std::vector<pass_t> make_passes(const std::vector<run_t> & runs, int64_t n_out, bool slots) {
    std::vector<pass_t> passes;
    for (size_t i = 0; i < runs.size(); ) {
        const uint8_t * h = runs[i].p; // a column: its header run, then its planes
        std::vector<const uint8_t *> planes;
        for (i++; i < runs.size() && runs[i].n == (size_t) n_out; i++) planes.push_back(runs[i].p);
        if (slots) {
            // pass p has min(8, n - 8p) planes; slot e takes part in the passes with more than e planes
            const size_t n = planes.size(), m = (n + 7)/8;
            std::vector<const uint8_t *> order(n);
            size_t next = 0;
            for (size_t e = 0; e < 8; e++) {
                for (size_t p = 0; p < m; p++) {
                    if (8*p + e < n) order[8*p + e] = planes[next++];
                }
            }
            planes = order;
        }
        for (size_t e0 = 0; e0 < planes.size(); e0 += 8) {
            pass_t p = {};
            p.n = (int) (std::min(planes.size(), e0 + 8) - e0);
            for (int e = 0; e < p.n; e++) p.planes[e] = planes[e0 + e];
            p.h = e0 + p.n == planes.size() ? h : nullptr;
            passes.push_back(p);
        }
    }
    return passes;
}

static uint64_t read_passes(const std::vector<pass_t> & passes, int64_t n_out, int ahead, bool skewed) {
    const int64_t T = n_out/64;
    auto off = [&](int e, int64_t j) { return 64*(skewed ? (j + e*T/8) % T : j); };
    size_t  pk = 0; // prefetch cursor: pass, tile
    int64_t pj = 0;
    auto pf_advance = [&]() { if (++pj == T) { pj = 0; pk++; } };
    for (int i = 0; i < ahead; i++) pf_advance();
    uint64_t s = 0;
    for (size_t k = 0; k < passes.size(); k++) {
        const pass_t & p = passes[k];
        for (int64_t j = 0; j < T; j++) {
            if (pk < passes.size()) {
                const pass_t & q = passes[pk];
                for (int e = 0; e < q.n; e++) __builtin_prefetch(q.planes[e] + off(e, pj), 0, 3);
                if (q.h) { __builtin_prefetch(q.h + 128*pj, 0, 3); __builtin_prefetch(q.h + 128*pj + 64, 0, 3); }
                pf_advance();
            }
            for (int e = 0; e < p.n; e++) {
                const uint64_t * l = (const uint64_t *) (p.planes[e] + off(e, j));
                s += (l[0] + l[1]) + (l[2] + l[3]) + (l[4] + l[5]) + (l[6] + l[7]);
            }
            if (p.h) {
                const uint64_t * l = (const uint64_t *) (p.h + 128*j);
                s += (l[0] + l[1]) + (l[2] + l[3]) + (l[4] + l[5]) + (l[6] + l[7]);
                s += (l[8] + l[9]) + (l[10] + l[11]) + (l[12] + l[13]) + (l[14] + l[15]);
            }
        }
    }
    return s;
}

int main(int argc, char ** argv) {
    if (argc < 5) { fprintf(stderr, "usage: %s n_in n_out sparsity threads [streams] [dist] [mb] [hugepages] [rounds]\n", argv[0]); return 1; }
    const int64_t n_in = atoll(argv[1]), n_out = atoll(argv[2]);
    const double  sparsity = atof(argv[3]);
    const int     n_threads = atoi(argv[4]);
    const int     streams = argc > 5 ? atoi(argv[5]) : 8;
    const size_t  dist = argc > 6 ? atoll(argv[6]) : 4096;
    const double  mb = argc > 7 ? atof(argv[7]) : 1024;
    const bool    huge = argc > 8 && atoi(argv[8]) != 0;
    const int     rounds = argc > 9 ? atoi(argv[9]) : 30;
    const int     lockstep = argc > 10 ? atoi(argv[10]) : 0; // > 0: the pattern in the op's order, prefetch this many tiles ahead
    const bool    skewed    = argc > 11 && atoi(argv[11]) != 0; // with lockstep: the planes of a pass at different rows
    const bool    slots     = argc > 12 && atoi(argv[12]) != 0; // with lockstep: each stream through consecutive active planes
    if (n_in % 32 != 0 || n_out % 64 != 0 || streams < 1 || streams > 64) { fprintf(stderr, "bad arguments\n"); return 1; }

    const int64_t n_bc = n_in/32;
    const size_t  bc_size = (size_t) n_out*34, size = (size_t) n_bc*bc_size;
    const int     n_copies = std::max(2, (int) (mb*1024*1024/size + 0.999));
    std::vector<uint8_t *> copies;
    for (int i = 0; i < n_copies; i++) copies.push_back(alloc_buf(size, huge));

    std::mt19937 rng(1234);
    std::bernoulli_distribution active(1.0 - sparsity);
    std::vector<std::vector<int>> act(n_bc);
    size_t bytes_pattern = 0;
    for (int64_t k = 0; k < n_bc; k++) {
        for (int j = 0; j < 32; j++) if (active(rng)) act[k].push_back(j);
        if (!act[k].empty()) bytes_pattern += (size_t) n_out*(2 + act[k].size());
    }
    // per copy and thread: the pattern's runs (block columns split by bytes, whole columns per thread) and a
    // sequential share of the copy with as many bytes as the thread's pattern share
    std::vector<std::vector<std::vector<run_t>>> pat(n_copies, std::vector<std::vector<run_t>>(n_threads)),
                                                 seq(n_copies, std::vector<std::vector<run_t>>(n_threads));
    for (int i = 0; i < n_copies; i++) {
        size_t acc = 0, seq_off = 0;
        int t = 0;
        for (int64_t k = 0; k < n_bc; k++) {
            if (act[k].empty()) continue;
            const uint8_t * bc = copies[i] + k*bc_size;
            const size_t b = (size_t) n_out*(2 + act[k].size());
            if (acc + b/2 > bytes_pattern*(t + 1)/n_threads && t < n_threads - 1) t++;
            pat[i][t].push_back({bc, (size_t) n_out*2});
            for (int j : act[k]) pat[i][t].push_back({bc + n_out*2 + (size_t) j*n_out, (size_t) n_out});
            acc += b;
        }
        for (int t2 = 0; t2 < n_threads; t2++) {
            size_t b = 0;
            for (const run_t & r : pat[i][t2]) b += r.n;
            seq[i][t2].push_back({copies[i] + seq_off, b});
            seq_off += b;
        }
    }

    std::vector<std::vector<std::vector<pass_t>>> lpass(n_copies, std::vector<std::vector<pass_t>>(n_threads));
    if (lockstep > 0) {
        for (int i = 0; i < n_copies; i++) for (int t = 0; t < n_threads; t++) lpass[i][t] = make_passes(pat[i][t], n_out, slots);
    }
    int job_copy = 0;

    // persistent workers (thread 0 is the caller), released per pass by a generation counter, spinning in between
    std::atomic<uint64_t> sink{0};
    std::atomic<int> gen{0}, done{0};
    std::vector<std::vector<run_t>> * job = nullptr;
    int    job_streams = 8;
    size_t job_dist    = 4096;
    std::vector<std::thread> workers;
    for (int t = 1; t < n_threads; t++) {
        workers.emplace_back([&, t]() {
            for (int seen = 0;;) {
                int g;
                while ((g = gen.load(std::memory_order_acquire)) == seen) {}
                if (g < 0) return;
                seen = g;
                sink += lockstep > 0 && job == &pat[job_copy] ? read_passes(lpass[job_copy][t], n_out, lockstep, skewed) : read_runs((*job)[t], job_streams, job_dist);
                done.fetch_add(1, std::memory_order_acq_rel);
            }
        });
    }
    // the sequential read always as the op bench's read probe does it (8 streams, 4 KiB ahead); the pattern's as asked
    auto pass = [&](std::vector<std::vector<std::vector<run_t>>> & w, int i) {
        job = &w[i];
        job_copy = i;
        job_streams = &w == &seq ? 8    : streams;
        job_dist    = &w == &seq ? 4096 : dist;
        done.store(0);
        const auto t0 = std::chrono::steady_clock::now();
        gen.fetch_add(1, std::memory_order_acq_rel);
        sink += lockstep > 0 && &w == &pat ? read_passes(lpass[i][0], n_out, lockstep, skewed) : read_runs(w[i][0], job_streams, job_dist);
        while (done.load(std::memory_order_acquire) < n_threads - 1) {}
        return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    };
    // warm-up, then rounds: sequential and pattern alternating per copy
    for (int i = 0; i < n_copies; i++) { pass(seq, i); pass(pat, i); }
    double t_seq = 0, t_pat = 0;
    for (int r = 0; r < rounds; r++) {
        for (int i = 0; i < n_copies; i++) { t_seq += pass(seq, i); t_pat += pass(pat, i); }
    }
    const double n = (double) rounds*n_copies;
    const double gb_seq = bytes_pattern/(t_seq/n)/1e9, gb_pat = bytes_pattern/(t_pat/n)/1e9;
    printf("n_in %lld n_out %lld sparsity %.2f threads %d streams %d dist %zu hugepages %d lockstep %d skewed %d slots %d copies %d: MB read %.1f, "
           "sequential %.2f GB/s, pattern %.2f GB/s, pattern/sequential %.3f\n",
           (long long) n_in, (long long) n_out, sparsity, n_threads, streams, dist, (int) huge, lockstep, (int) skewed, (int) slots, n_copies,
           bytes_pattern/1e6, gb_seq, gb_pat, gb_pat/gb_seq);
    gen.store(-1, std::memory_order_release);
    for (auto & x : workers) x.join();
    return sink.load() == 42 ? 1 : 0;
}
