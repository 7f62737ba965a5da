using System.Globalization;

namespace PublishingPoint.Benchmarks.Memory;

/// <summary>
/// The server's managed heap as its /metrics gives it (the runtime's own meter): what the last collection left per
/// generation, the free space among it, and the memory the GC had committed. Where RSS growth is the GC's.
/// </summary>
internal sealed record ManagedHeap(long CommittedBytes, IReadOnlyDictionary<string, long> SizeBytes, IReadOnlyDictionary<string, long> FragmentationBytes)
{
    private static readonly string[] _generations = ["gen0", "gen1", "gen2", "loh", "poh"];

    public static async Task<ManagedHeap> ReadAsync(HttpClient server, CancellationToken cancellationToken)
    {
        var lines = (await server.GetStringAsync(new Uri("metrics", UriKind.Relative), cancellationToken)).Split('\n');
        long Value(string name) => lines.Where(l => l.StartsWith(name, StringComparison.Ordinal))
            .Select(l => (long)double.Parse(l.AsSpan(l.LastIndexOf(' ') + 1), CultureInfo.InvariantCulture)).FirstOrDefault();
        return new ManagedHeap(
            Value("system_runtime_dotnet_gc_last_collection_memory_committed_size "),
            _generations.ToDictionary(g => g, g => Value($"system_runtime_dotnet_gc_last_collection_heap_size{{gc_heap_generation=\"{g}\"}}")),
            _generations.ToDictionary(g => g, g => Value($"system_runtime_dotnet_gc_last_collection_heap_fragmentation_size{{gc_heap_generation=\"{g}\"}}")));
    }

    public string Describe() =>
        string.Create(CultureInfo.InvariantCulture, $"managed heap after the last collection: committed {CommittedBytes / 1e6:F1} MB; ")
        + string.Join(", ", _generations.Select(g => string.Create(CultureInfo.InvariantCulture, $"{g} {SizeBytes[g] / 1e6:F1} MB (free {FragmentationBytes[g] / 1e6:F1})")));
}
