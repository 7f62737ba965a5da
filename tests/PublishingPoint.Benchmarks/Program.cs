using PublishingPoint.Benchmarks;
using PublishingPoint.Benchmarks.Channels;
using PublishingPoint.Benchmarks.Latency;
using PublishingPoint.Benchmarks.Memory;
using PublishingPoint.Benchmarks.Repackage;
using PublishingPoint.Benchmarks.Soak;

// dotnet run -c Release --project tests/PublishingPoint.Benchmarks -- <command> [options]
// Each command is one IBenchmarkCommand; add new ones to this list.
IBenchmarkCommand[] commands =
[
    new RepackageCommand(),
    new PublishingPoint.Benchmarks.Serve.ServeCommand(),
    new LatencyCommand(),
    new ChannelsCommand(),
    new MemoryCommand(),
    new PublishingPoint.Benchmarks.Age.AgeCommand(),
    new SoakCommand(),
    new PublishingPoint.Benchmarks.Hostile.HostileCommand(),
];

// serve --sizes starts this process once more as its bare Kestrel reference (not a benchmark of its own)
if (args is [PublishingPoint.Benchmarks.Serve.BareKestrel.Command, var root, var port])
{
    return await PublishingPoint.Benchmarks.Serve.BareKestrel.RunAsync(root, int.Parse(port, System.Globalization.CultureInfo.InvariantCulture));
}

return await CommandDispatcher.RunAsync(commands, args);
