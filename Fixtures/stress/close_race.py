"""Issue 11's reproduction: 8 threading threads over 20 children of the root, each looping
300 times: pick a loader; 90% eval('1') or exec('import json') in it, 10% close it (under a
lock); a thread that finds its loader closed makes a replacement. Before the fix it aborted
the process ("init_threadstate: thread state already initialized") as soon as a thread that
had made a loader ended while that loader was still used by others."""
import pyloader, threading, random, sys
root = pyloader.root()
lock = threading.Lock()
loaders = [root.child(f"c{i}") for i in range(20)]
counter = [20]
def work(seed):
    rng = random.Random(seed)
    for _ in range(300):
        i = rng.randrange(len(loaders))
        l = loaders[i]
        try:
            if rng.random() < 0.9:
                if rng.random() < 0.5: l.eval('1')
                else: l.exec('import json')
            else:
                with lock:
                    l.close()
        except (pyloader.LoaderClosedError, RuntimeError) as e:
            pass
        if l.closed:
            with lock:
                if loaders[i] is l:
                    counter[0] += 1
                    try: loaders[i] = root.child(f"c{counter[0]}")
                    except Exception as e: pass
ts = [threading.Thread(target=work, args=(s,)) for s in range(8)]
for t in ts: t.start()
for t in ts: t.join()
print("ok", counter[0])
