// time ggml_sparse_relayout of one 8B-shaped weight per type (whole, one thread), and by parts on T threads if PARTS
// before: g++ -O2 -std=c++17 relayout_time.cpp -I<llama.cpp>/ggml/include -L<old build>/bin -Wl,-rpath,<old build>/bin -lggml-base -pthread -o rl-old
// after:  the same with -DPARTS and the new build's bin;  run: rl-old 4096 14336;  rl-new 4096 14336 [threads]
#include "ggml.h"
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>
#include <vector>
int main(int argc, char ** argv) {
    const int64_t n_in = atoll(argv[1]), n_out = atoll(argv[2]);
    const int nth = argc > 3 ? atoi(argv[3]) : 1;
    for (ggml_type t : { GGML_TYPE_F16, GGML_TYPE_Q8_0, GGML_TYPE_Q4_0, GGML_TYPE_Q4_K, GGML_TYPE_Q6_K }) {
        const size_t n = ggml_row_size(t, n_in)*n_out;
        std::vector<uint8_t> s(n), d(n);
        for (size_t i = 0; i < n; i++) s[i] = (uint8_t) (i*2654435761u >> 13); // any bytes: the re-layout only moves them
        double best = 1e9;
        for (int rep = 0; rep < 3; rep++) {
            auto t0 = std::chrono::steady_clock::now();
#ifdef PARTS
            std::vector<std::thread> th;
            for (int i = 1; i < nth; i++) th.emplace_back(ggml_sparse_relayout_part, t, n_in, n_out, s.data(), d.data(), i, nth);
            ggml_sparse_relayout_part(t, n_in, n_out, s.data(), d.data(), 0, nth);
            for (auto & x : th) x.join();
#else
            ggml_sparse_relayout(t, n_in, n_out, s.data(), d.data());
#endif
            best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
        }
        printf("%-5s %lldx%lld threads %d: %.1f MB in %.1f ms, %.0f MB/s\n", ggml_type_name(t), (long long) n_in, (long long) n_out, nth, n/1e6, best*1e3, n/1e6/best);
    }
}
