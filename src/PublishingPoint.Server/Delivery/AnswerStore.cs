using System.Collections.Concurrent;
using System.Text;
using Microsoft.AspNetCore.HostFiltering;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Primitives;
using Microsoft.Net.Http.Headers;
using PublishingPoint.Server.Points;

namespace PublishingPoint.Server.Delivery;

/// <summary>
/// Set on a player's request that could be answered again as it is answered now (<see cref="AnswerStore.Recordable"/>):
/// the handler says where its body came from, so the same answer can be found again while it holds.
/// </summary>
internal sealed class AnswerNote
{
    /// <summary>
    /// A rendered output's bytes (plain or gzip), the output and the key the point's output cache holds it under: the
    /// answer holds while the cache would answer with that very output (its version, and not rendered again since).
    /// </summary>
    public byte[]? Bytes { get; private set; }

    public RenderedOutput? Output { get; private set; }

    public string? OutputKey { get; private set; }

    public long Version { get; private set; } = -1;

    /// <summary>A segment cache entry, looked up again for each replay (it holds while the cache keeps the segment).</summary>
    public CachedSegment? Segment { get; private set; }

    public static AnswerNote? Of(HttpContext context) => context.Features.Get<AnswerNote>();

    public void Rendered(byte[] bytes, RenderedOutput output)
    {
        ArgumentNullException.ThrowIfNull(output);
        Bytes = bytes;
        Output = output;
        Version = output.Version;
    }

    public void Keyed(string key) => OutputKey = key;

    /// <param name="version">The point's version it holds at; -1 (the default) while the cache keeps it.</param>
    public void Cached<TKey>(SegmentCache cache, TKey key, long version = -1)
        where TKey : struct, IEquatable<TKey>
    {
        Segment = new CachedSegment(cache, key); // the cache's keys are objects: boxed here once, not at each replay
        Version = version;
    }
}

/// <summary>
/// Answers players were given, kept for <see cref="Transport.AnswerReplay"/> under their request's target, Host and
/// Accept-Encoding: the head as sent (without its Date) and where the body is. One holds while its point is the one at
/// that path, not retired, (for a rendered output) still at the version it was rendered for, and host filtering's
/// options (AllowedHosts) have not been reloaded since (the filter is the pipeline's: a kept answer's Host may be one no
/// longer allowed), and (for a segment) while the segment cache keeps the entry it was answered from; one that no longer holds
/// is dropped when it is next asked for, and all are looked over every 30 s and whenever the store is full, so a deleted
/// point is not kept alive by its answers. Bounded by count and by the rendered bytes it keeps alive: when full, what
/// no longer holds goes first, then any until a quarter is free (requests of made-up Hosts or Accept-Encodings can
/// only make the pipeline answer more of what it would otherwise have answered anyway).
/// </summary>
internal sealed class AnswerStore : IDisposable
{
    public const int MaxEntries = 4096;
    public const long MaxBytes = 64L * 1024 * 1024;
    private static readonly byte[] _statusLine = "HTTP/1.1 200 OK\r\n"u8.ToArray();
    private readonly ConcurrentDictionary<string, Entry> _entries = new(StringComparer.Ordinal);
    private readonly PointRegistry _registry;
    private readonly ITimer _sweeper;
    private readonly IDisposable? _hostsChanged;
    private readonly Lock _trimming = new();
    // Host filtering's options as last reloaded (null: any host), and how many reloads there were: an answer kept before
    // one holds no more, and one is kept only for a Host they allow (its request may have passed the filter before).
    private volatile List<StringSegment>? _allowedHosts;
    private long _hosts;
    // Counted as entries come and go: the dictionary's own Count takes every one of its locks.
    private int _count;
    private long _bytes;

    public AnswerStore(PointRegistry registry, IOptionsMonitor<HostFilteringOptions> hosts)
    {
        ArgumentNullException.ThrowIfNull(hosts);
        _registry = registry ?? throw new ArgumentNullException(nameof(registry));
        _sweeper = registry.Time.CreateTimer(static state => ((AnswerStore)state!).Sweep(), this, TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(30));
        _allowedHosts = Allowed(hosts.CurrentValue);
        _hostsChanged = hosts.OnChange(options =>
        {
            _allowedHosts = Allowed(options);
            Interlocked.Increment(ref _hosts);
        });
    }

    private static List<StringSegment>? Allowed(HostFilteringOptions options) =>
        options.AllowedHosts is not { Count: > 0 } hosts || hosts.Contains("*") ? null : [.. hosts.Select(h => new StringSegment(h))];

    public int Count => Volatile.Read(ref _count);

    public void Dispose()
    {
        _sweeper.Dispose();
        _hostsChanged?.Dispose();
    }

    /// <param name="PointName">The point's path as the registry finds it.</param>
    /// <param name="Version">The point's version the body belongs to; -1 for a segment (immutable while cached).</param>
    /// <param name="Format">Its output, for the request counters (hls, dash, smooth).</param>
    /// <param name="Viewer">A manifest, playlist or MPD: its client counts as a viewer of the point.</param>
    internal sealed record Entry(Point Point, string PointName, long Version, byte[] Head, int Length, byte[]? Bytes, CachedSegment? Segment, string Format, bool Viewer)
    {
        public long Hosts { get; init; }

        /// <summary>A rendered output, which holds while the point's output cache has it under <see cref="OutputKey"/>.</summary>
        public RenderedOutput? Output { get; init; }

        public string? OutputKey { get; init; }
    }

    /// <summary>The entry under <paramref name="key"/> while it holds (its point and version as when it was kept).</summary>
    public bool TryGet(ReadOnlySpan<char> key, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out Entry? entry)
    {
        if (!_entries.GetAlternateLookup<ReadOnlySpan<char>>().TryGetValue(key, out var stored, out entry))
        {
            return false;
        }

        if (Holds(entry))
        {
            return true;
        }

        Forget(stored, entry);
        entry = null;
        return false;
    }

    /// <summary>Drops <paramref name="entry"/> unless another took its place meanwhile.</summary>
    public void Forget(string key, Entry entry)
    {
        ArgumentNullException.ThrowIfNull(entry);
        if (_entries.TryRemove(new KeyValuePair<string, Entry>(key, entry)))
        {
            Interlocked.Decrement(ref _count);
            Interlocked.Add(ref _bytes, -(entry.Bytes?.Length ?? 0));
        }
    }

    /// <summary>Drops every entry that no longer holds.</summary>
    public void Sweep()
    {
        foreach (var (key, entry) in _entries)
        {
            if (!Holds(entry))
            {
                Forget(key, entry);
            }
        }
    }

    private bool Holds(Entry entry) => entry.Hosts == Interlocked.Read(ref _hosts) && !entry.Point.Retired && (entry.Version < 0 || entry.Point.Version == entry.Version)
        && ReferenceEquals(_registry.Find(entry.PointName), entry.Point)
        && (entry.Output is null || (entry.Point.Output.TryGet(entry.OutputKey!, entry.Version, out var current) && ReferenceEquals(current, entry.Output)))
        && entry.Segment is not { Gone: true };

    // Full: first what no longer holds, then any, until a quarter of each bound is free.
    private void Trim(long adding)
    {
        lock (_trimming)
        {
            if (Count < MaxEntries && Interlocked.Read(ref _bytes) + adding <= MaxBytes)
            {
                return;
            }

            Sweep();
            foreach (var (key, entry) in _entries)
            {
                if (Count <= MaxEntries * 3 / 4 && Interlocked.Read(ref _bytes) <= MaxBytes * 3 / 4)
                {
                    break;
                }

                Forget(key, entry);
            }
        }
    }

    /// <summary>
    /// A plain-HTTP/1.1 GET with no query or percent-encoding, whose headers are a Host, at most one Accept-Encoding, at
    /// most one Origin (the caller records such answers only where every origin is allowed), keep-alive, and others no
    /// answer reads: what <see cref="Transport.RequestHead.Replayable"/> accepts on the wire.
    /// </summary>
    public static bool Recordable(HttpContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var request = context.Request;
        if (!HttpMethods.IsGet(request.Method) || !HttpProtocol.IsHttp11(request.Protocol) || request.IsHttps || request.QueryString.HasValue
            || context.Features.Get<ITlsConnectionFeature>() is not null
            || context.Features.Get<IHttpRequestFeature>()?.RawTarget is not { } raw || !string.Equals(raw, request.Path.Value, StringComparison.Ordinal))
        {
            return false;
        }

        foreach (var (name, values) in request.Headers)
        {
            var ok = name.Equals("Origin", StringComparison.OrdinalIgnoreCase)
                ? values.Count == 1 && !string.IsNullOrEmpty(values[0])
                : name.Equals("Host", StringComparison.OrdinalIgnoreCase) || name.Equals("Accept-Encoding", StringComparison.OrdinalIgnoreCase)
                ? values.Count == 1
                : name.Equals("Connection", StringComparison.OrdinalIgnoreCase)
                ? values.Count == 1 && string.Equals(values[0], "keep-alive", StringComparison.OrdinalIgnoreCase)
                : Transport.RequestHead.Ignorable(name);
            if (!ok)
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>Keeps the answer just given (status 200, every header sent) when its handler noted where its body came from.</summary>
    public void Record(HttpContext context, Point point, AnswerNote note, string format, bool viewer)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(point);
        ArgumentNullException.ThrowIfNull(note);
        var response = context.Response;
        if (response.StatusCode != StatusCodes.Status200OK || response.ContentLength is not { } length || length > int.MaxValue
            || context.RequestAborted.IsCancellationRequested || (note.Bytes is null && note.Segment is null) || (note.Bytes is not null && note.OutputKey is null)
            || (note.Bytes is { } bytes && bytes.Length != length) || Head(response.Headers, length) is not { } head)
        {
            return;
        }

        // A segment the cache let go meanwhile (or never kept) is not kept either: nothing would say when it goes.
        if (note.Segment is { } segment && !segment.Seen())
        {
            return;
        }

        var request = context.Request;
        var hosts = Interlocked.Read(ref _hosts);
        var host = request.Headers.Host.ToString();
        if (_allowedHosts is { } allowed && !HostString.MatchesAny(new StringSegment(host), allowed))
        {
            return;
        }

        var key = Transport.AnswerReplay.Key(request.Path.Value!, host, request.Headers.AcceptEncoding.ToString(), request.Headers.ContainsKey(HeaderNames.Origin));
        var entry = new Entry(point, point.Path.Value, note.Version, head, (int)length, note.Bytes, note.Segment, format, viewer) { Output = note.Output, OutputKey = note.OutputKey, Hosts = hosts };
        var kept = note.Bytes?.Length ?? 0;
        if (Count >= MaxEntries || Interlocked.Read(ref _bytes) + kept > MaxBytes)
        {
            Trim(kept);
        }

        // The factories may run more than once (another thread removed or replaced the entry meanwhile): the last says.
        Entry? replaced = null;
        _entries.AddOrUpdate(key, _ =>
        {
            replaced = null;
            return entry;
        }, (_, before) =>
        {
            replaced = before;
            return entry;
        });
        if (replaced is null)
        {
            Interlocked.Increment(ref _count);
        }

        Interlocked.Add(ref _bytes, kept - (replaced?.Bytes?.Length ?? 0));
    }

    // The status line and every header as Kestrel sent them but the Date (the replay writes the current one); null when
    // one of them must not be sent twice or is not plain ASCII.
    private static byte[]? Head(IHeaderDictionary headers, long length)
    {
        var text = new StringBuilder();
        foreach (var (name, values) in headers)
        {
            if (name.Equals("Date", StringComparison.OrdinalIgnoreCase) || name.Equals("Content-Length", StringComparison.OrdinalIgnoreCase))
            {
                continue;
            }

            if (name.Equals("Connection", StringComparison.OrdinalIgnoreCase) || name.Equals("Transfer-Encoding", StringComparison.OrdinalIgnoreCase)
                || name.Equals("Set-Cookie", StringComparison.OrdinalIgnoreCase))
            {
                return null;
            }

            foreach (var value in values)
            {
                if (value is null || !Ascii.IsValid(value) || value.AsSpan().IndexOfAny('\r', '\n') >= 0)
                {
                    return null;
                }

                text.Append(name).Append(": ").Append(value).Append("\r\n");
            }
        }

        text.Append("Content-Length: ").Append(length).Append("\r\n");
        return [.. _statusLine, .. Encoding.ASCII.GetBytes(text.ToString())];
    }
}
