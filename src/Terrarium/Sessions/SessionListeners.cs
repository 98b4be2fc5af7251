using Terrarium.Protocol;

namespace Terrarium.Sessions;

/// <summary>What the driver does with what nodes tell its sessions besides results: its workers' output, its envs' setup steps.</summary>
internal sealed record SessionListeners(Action<LogLines>? OnLogs, Action<EnvSetupProgress>? OnEnvSetup);
