namespace PublishingPoint.Server.Tests.Infrastructure;

/// <summary>
/// Runs alone, after the parallel tests: a player's live latency measured while other test classes keep both cores busy
/// measures them (the dash.js median went from 2.2 s alone to 3.3 and 3.65 s inside the full run).
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class LatencyMeasurements
{
    public const string Name = "latency measurements";
}
