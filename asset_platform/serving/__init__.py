"""The champion as a service: an MLServer runtime that answers the Open Inference Protocol (V2).

`runtime.ChampionRuntime` loads a declared model's champion through the registry (hash-checked,
skops-trusted, as every other load) and follows the champion pointer; `rows` turns a V2 request
into contract rows, refusing what the declaration's contract refuses; `server.serve` runs it on
MLServer; `capture` makes each answered request's rows production batches of the model, and
`metrics` counts requests, errors and latency per version for Prometheus; `canary` lets the challenger
in shadow answer a declared share of requests and withdraws it when it fails or slows them. Imported only by
`asset-platform serve-model`: MLServer is slow to import.
"""
