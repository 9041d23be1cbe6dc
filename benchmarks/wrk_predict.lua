-- wrk script: single-molecule POST /v1/predict requests cycling through a few drug SMILES.
--   gnnpt serve --port 8000 &   wrk -t 2 -c 16 -d 12s --latency -s benchmarks/wrk_predict.lua http://127.0.0.1:8000
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local pool = {"CCO", "c1ccccc1O", "CC(=O)Oc1ccccc1C(=O)O", "CN1C=NC2=C1C(=O)N(C(=O)N2C)C",
              "COc1ccc2[nH]cc(CCNC(C)=O)c2c1", "O=C(O)c1ccccc1O", "CCN(CC)CC", "c1ccc2ccccc2c1"}
local i = 0
request = function()
  i = i + 1
  return wrk.format(nil, "/v1/predict", nil, '{"smiles": ["' .. pool[(i % #pool) + 1] .. '"]}')
end
