namespace PublishingPoint.Benchmarks;

/// <summary>One benchmark the console app can run: <c>dotnet run -c Release -- {Name} [options]</c>.</summary>
internal interface IBenchmarkCommand
{
    string Name { get; }

    string Description { get; }

    /// <summary>Option lines for the help text ("--seconds N   ...").</summary>
    IReadOnlyList<string> Options { get; }

    Task<int> RunAsync(BenchmarkArguments arguments, CancellationToken cancellationToken);
}

/// <summary>Picks the command named by the first argument and hands it the rest; prints help otherwise.</summary>
internal static class CommandDispatcher
{
    public static async Task<int> RunAsync(IReadOnlyList<IBenchmarkCommand> commands, string[] args)
    {
        if (args.Length == 0 || args[0] is "-h" or "--help" or "help")
        {
            PrintHelp(commands);
            return args.Length == 0 ? 1 : 0;
        }

        var command = commands.FirstOrDefault(c => string.Equals(c.Name, args[0], StringComparison.OrdinalIgnoreCase));
        if (command is null)
        {
            await Console.Error.WriteLineAsync($"unknown command '{args[0]}'");
            PrintHelp(commands);
            return 1;
        }

        BenchmarkArguments arguments;
        try
        {
            arguments = BenchmarkArguments.Parse(args.AsSpan(1));
        }
        catch (ArgumentException e)
        {
            await Console.Error.WriteLineAsync(e.Message);
            return 1;
        }

        if (arguments.Has("help"))
        {
            PrintHelp([command]);
            return 0;
        }

        using var cancel = new CancellationTokenSource();
        Console.CancelKeyPress += (_, e) =>
        {
            e.Cancel = true;
            cancel.Cancel();
        };
        return await command.RunAsync(arguments, cancel.Token);
    }

    private static void PrintHelp(IReadOnlyList<IBenchmarkCommand> commands)
    {
        Console.WriteLine("usage: dotnet run -c Release --project tests/PublishingPoint.Benchmarks -- <command> [options]");
        Console.WriteLine();
        foreach (var command in commands)
        {
            Console.WriteLine($"  {command.Name,-12} {command.Description}");
            foreach (var option in command.Options)
            {
                Console.WriteLine($"      {option}");
            }
        }
    }
}
