-- Argo CD health of Vigil's TelemetrySink, MonitoringStack and AlertPolicy (group vigil.dev).
-- Argo CD runs it in gopher-lua (Lua 5.1) with only the base and table libraries: no string.*.
--   Progressing  the operator has not reconciled this generation yet (or no status at all)
--   Degraded     Ready=False (nothing new was rolled out), or Degraded=True (something left out)
--   Healthy      Ready=True for the current generation
local hs = {}

local function condition(conditions, wanted)
  for _, c in ipairs(conditions) do
    if type(c) == "table" and c.type == wanted then
      return c
    end
  end
  return nil
end

local function describe(c)
  local reason = c.reason
  if type(reason) ~= "string" or reason == "" then
    reason = "NoReason"
  end
  if type(c.message) == "string" and c.message ~= "" then
    return reason .. ": " .. c.message
  end
  return reason
end

local generation = obj.metadata.generation
local status = obj.status
-- The CRD defaults status to empty lists and observedGeneration 0: no operator has touched it.
if type(status) ~= "table" or type(status.conditions) ~= "table"
    or (next(status.conditions) == nil and (status.observedGeneration == nil or status.observedGeneration == 0)) then
  hs.status = "Progressing"
  hs.message = "Waiting for the Vigil operator to reconcile this " .. obj.kind
  return hs
end

local observed = status.observedGeneration
if type(generation) == "number" and (type(observed) ~= "number" or observed < generation) then
  hs.status = "Progressing"
  hs.message = "Waiting for the Vigil operator to reconcile generation " .. generation
    .. " (last reconciled: " .. tostring(observed) .. ")"
  return hs
end

local ready = condition(status.conditions, "Ready")
if ready == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the Vigil operator to report Ready"
  return hs
end
if type(generation) == "number" and type(ready.observedGeneration) == "number"
    and ready.observedGeneration < generation then
  hs.status = "Progressing"
  hs.message = "Ready is from generation " .. ready.observedGeneration .. "; waiting for " .. generation
  return hs
end
if ready.status == "False" then
  hs.status = "Degraded"
  hs.message = describe(ready)
  return hs
end
if ready.status ~= "True" then
  hs.status = "Progressing"
  hs.message = "Ready is " .. tostring(ready.status) .. ": " .. describe(ready)
  return hs
end

local degraded = condition(status.conditions, "Degraded")
if degraded ~= nil and degraded.status == "True" then
  hs.status = "Degraded"
  hs.message = "Ready, but degraded: " .. describe(degraded)
  return hs
end

hs.status = "Healthy"
hs.message = describe(ready)
return hs
