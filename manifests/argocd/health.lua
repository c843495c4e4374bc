-- Argo CD health of the zkstash (KubeStash-compatible) kinds. One script serves every kind: Argo CD
-- sets the global `obj` to the live object, and the script returns {status=…, message=…}.
-- Statuses: Healthy, Progressing, Degraded, Suspended. Read by Argo CD's gopher-lua (Lua 5.1).

local function condition(status, type_)
  if status == nil or status.conditions == nil then
    return nil
  end
  for _, c in ipairs(status.conditions) do
    if c.type == type_ then
      return c
    end
  end
  return nil
end

-- The first condition whose status is "False" among the named types, in the order given.
local function first_false(conditions, types)
  if conditions == nil then
    return nil
  end
  for _, type_ in ipairs(types) do
    for _, c in ipairs(conditions) do
      if c.type == type_ and c.status == "False" then
        return c
      end
    end
  end
  return nil
end

local function describe(c, fallback)
  if c ~= nil and c.message ~= nil and c.message ~= "" then
    return c.message
  end
  if c ~= nil and c.reason ~= nil and c.reason ~= "" then
    return c.reason
  end
  return fallback
end

local function result(status, message)
  return { status = status, message = message }
end

-- Metacontroller has not yet reported on the current spec.
local function stale(o)
  local s = o.status
  local generation = o.metadata and o.metadata.generation
  return s ~= nil and s.observedGeneration ~= nil and generation ~= nil and s.observedGeneration < generation
end

-- BackupStorage and Repository: Ready once their init Job wrote the backend; a False condition is
-- a failure (bad credentials, unreachable bucket); otherwise initialisation is still running.
local function initialised(init_condition, extra)
  return function(o)
    local s = o.status
    if s.phase == "Ready" then
      return result("Healthy", describe(condition(s, init_condition), "Ready"))
    end
    local types = { init_condition }
    if extra ~= nil then
      table.insert(types, extra)
    end
    local failed = first_false(s.conditions, types)
    if failed ~= nil then
      return result("Degraded", describe(failed, "NotReady"))
    end
    return result("Progressing", "Initializing the backend")
  end
end

local function snapshot(o)
  local s = o.status
  if s.phase == "Succeeded" then
    return result("Healthy", "Snapshot taken at " .. tostring(s.snapshotTime or "an unknown time"))
  end
  if s.phase == "Failed" then
    if s.components ~= nil then
      for name, component in pairs(s.components) do
        if component.error ~= nil and component.error ~= "" then
          return result("Degraded", name .. ": " .. component.error)
        end
      end
    end
    local failed = first_false(s.conditions, { "SnapshotMetadataUploaded", "RecentSnapshotListUpdated" })
    local incomplete = condition(s, "BackupIncomplete")
    if failed == nil and incomplete ~= nil and incomplete.status == "True" then
      failed = incomplete
    end
    return result("Degraded", describe(failed, "Snapshot failed"))
  end
  return result("Progressing", "Snapshot is " .. s.phase)
end

local function backup_configuration(o)
  local s = o.status
  if s.phase == "Invalid" then
    return result("Degraded", describe(condition(s, "ValidationPassed"), "Invalid spec"))
  end
  if o.spec ~= nil and o.spec.paused == true then
    return result("Suspended", "Backups are paused (spec.paused)")
  end
  if s.phase == "Ready" then
    return result("Healthy", "Ready")
  end
  local failed = first_false(s.conditions, { "ValidationPassed" })
  if failed == nil and s.sessions ~= nil then
    for _, session in ipairs(s.sessions) do
      failed = first_false(session.conditions, { "SchedulerEnsured", "InitialBackupTriggered" })
      if failed ~= nil then
        break
      end
    end
  end
  if failed ~= nil then
    return result("Degraded", describe(failed, "NotReady"))
  end
  -- Not ready for a reason that resolves itself: the target or a storage is not there yet.
  if s.targetFound == false then
    return result("Progressing", "Waiting for the backup target")
  end
  if s.backends ~= nil then
    for _, backend in ipairs(s.backends) do
      if backend.ready ~= true then
        return result("Progressing", "Waiting for backend " .. tostring(backend.name))
      end
    end
  end
  return result("Progressing", "Setting up the backup schedule")
end

local backup_failure_conditions = {
  "BackupExecutorEnsured",
  "SnapshotsEnsured",
  "RetentionPolicyExecutorEnsured",
  "PreBackupHooksExecutionSucceeded",
  "PostBackupHooksExecutionSucceeded",
  "SessionHistoryCleaned",
  "MetricsPushed",
}

local function backup_session(o)
  local s = o.status
  if s.phase == "Succeeded" then
    return result("Healthy", "Backup succeeded" .. (s.duration and (" in " .. s.duration) or ""))
  end
  -- A skipped session is a normal outcome (another backup was running, or the configuration was
  -- not ready), not a fault and not a pause: Healthy, with the reason.
  if s.phase == "Skipped" then
    return result("Healthy", "Skipped: " .. describe(condition(s, "BackupSkipped"), "backup skipped"))
  end
  if s.phase == "Failed" then
    local failed = first_false(s.conditions, backup_failure_conditions)
    if failed ~= nil then
      return result("Degraded", describe(failed, "Backup failed"))
    end
    if s.snapshots ~= nil then
      for _, snap in ipairs(s.snapshots) do
        if snap.phase == "Failed" then
          return result("Degraded", "Snapshot " .. tostring(snap.name) .. " failed")
        end
      end
    end
    return result("Degraded", "Backup failed")
  end
  return result("Progressing", "Backup is " .. s.phase)
end

local restore_failure_conditions = {
  "RestoreExecutorEnsured",
  "PreRestoreHooksExecutionSucceeded",
  "PostRestoreHooksExecutionSucceeded",
  "RestoreTargetFound",
  "MetricsPushed",
}

local function restore_session(o)
  local s = o.status
  if s.phase == "Succeeded" then
    return result("Healthy", "Restore succeeded" .. (s.duration and (" in " .. s.duration) or ""))
  end
  if s.phase == "Invalid" then
    return result("Degraded", describe(condition(s, "ValidationPassed"), "Invalid spec"))
  end
  if s.phase == "Failed" then
    local failed = first_false(s.conditions, restore_failure_conditions)
    local incomplete = condition(s, "RestoreIncomplete")
    if failed == nil and incomplete ~= nil and incomplete.status == "True" then
      failed = incomplete
    end
    if failed == nil and s.components ~= nil then
      for name, component in pairs(s.components) do
        if component.error ~= nil and component.error ~= "" then
          return result("Degraded", name .. ": " .. component.error)
        end
      end
    end
    return result("Degraded", describe(failed, "Restore failed"))
  end
  -- Unknown: the restore finished but some component's outcome is not known; the data may be
  -- incomplete, so it needs a person.
  if s.phase == "Unknown" then
    return result("Degraded", "Restore finished, but the result of some components is unknown")
  end
  return result("Progressing", "Restore is " .. s.phase)
end

local by_kind = {
  BackupStorage = initialised("BackendInitialized", "BackendSecretFound"),
  Repository = initialised("RepositoryInitialized"),
  Snapshot = snapshot,
  BackupConfiguration = backup_configuration,
  BackupSession = backup_session,
  RestoreSession = restore_session,
}

local check = by_kind[obj.kind]
if check == nil then
  -- RetentionPolicy, BackupBlueprint, HookTemplate, Addon, Function: spec only, nothing to wait for.
  return result("Healthy", "")
end
if obj.status == nil or obj.status.phase == nil or obj.status.phase == "" then
  return result("Progressing", "Waiting for the controller to report a phase")
end
if stale(obj) then
  return result("Progressing", "Waiting for the controller to observe generation " .. obj.metadata.generation)
end
return check(obj)
