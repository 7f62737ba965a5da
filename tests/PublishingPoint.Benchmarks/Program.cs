using PublishingPoint.Benchmarks;
using PublishingPoint.Benchmarks.Repackage;

// dotnet run -c Release --project tests/PublishingPoint.Benchmarks -- <command> [options]
// Each command is one IBenchmarkCommand; add new ones to this list.
IBenchmarkCommand[] commands =
[
    new RepackageCommand(),
    new PublishingPoint.Benchmarks.Serve.ServeCommand(),
];

return await CommandDispatcher.RunAsync(commands, args);
