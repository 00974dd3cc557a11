# read bandwidth lower bound: best of 8 numpy sums of a 1 GiB float32 array (run two at once for two cores)
import numpy as np, time, sys
a = np.ones(1 << 28, np.float32)  # 1 GiB

best = 0
for _ in range(8):
    t = time.perf_counter(); s = a.sum(dtype=np.float32); dt = time.perf_counter() - t
    best = max(best, a.nbytes/dt/1e9)
print(f"{best:.1f} GB/s")
