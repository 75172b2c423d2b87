-- Argo CD health check for accord.dev/ModelDeployment.
-- Install it with the argocd-cm snippet in argocd-cm.yaml (docs/gitops.md).
hs = {}
local function condition(conditions, type_)
  if conditions == nil then return nil end
  for _, c in ipairs(conditions) do
    if c.type == type_ then return c end
  end
  return nil
end

if obj.status == nil or obj.status.phase == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for Accord to reconcile the ModelDeployment"
  return hs
end
if obj.metadata.generation ~= nil and obj.status.observedGeneration ~= obj.metadata.generation then
  hs.status = "Progressing"
  hs.message = "Waiting for Accord to observe the latest spec"
  return hs
end

local phase = obj.status.phase
local ready = condition(obj.status.conditions, "Ready")
local message = phase
if ready ~= nil and ready.message ~= nil and ready.message ~= "" then
  message = ready.message
end

if phase == "Serving" and ready ~= nil and ready.status == "False" then
  -- Serving, but pods stopped being Ready: Accord rolls back if it lasts.
  hs.status = "Progressing"
elseif phase == "Serving" then
  hs.status = "Healthy"
elseif phase == "AwaitingAttestations" then
  local handoff = condition(obj.status.conditions, "HandoffComplete")
  hs.status = "Suspended"
  if handoff ~= nil and handoff.message ~= nil then message = handoff.message end
elseif phase == "Canary" or phase == "Promoting" or phase == "RollingBack" then
  hs.status = "Progressing"
elseif phase == "RolledBack" or phase == "Degraded" or phase == "Invalid" then
  hs.status = "Degraded"
else
  hs.status = "Unknown"
end
hs.message = message
return hs
