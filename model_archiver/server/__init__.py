"""The real Multi Model Server, driven from Python: start/stop, smoke-test, benchmark.

``process`` starts and always stops an isolated MMS; ``client`` speaks HTTP to
it (keep-alive for load); ``settings`` reads an archive's recommended serving
settings; ``loadgen`` measures latency and throughput; ``smoke`` checks an
archive's answers in the server against the local runner; ``bench`` runs the
cost/performance grid and ``report`` writes its table and plot.
"""
