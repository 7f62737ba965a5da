using System.Collections.Concurrent;
using System.Text;
using Microsoft.AspNetCore.Http.Features;
using PublishingPoint.Server.Points;

namespace PublishingPoint.Server.Delivery;

/// <summary>
/// Set on a player's request that could be answered again as it is answered now (<see cref="AnswerStore.Recordable"/>):
/// the handler says where its body came from, so the same answer can be found again while it holds.
/// </summary>
internal sealed class AnswerNote
{
    /// <summary>A rendered output's bytes, and the point's version they are the answer for.</summary>
    public byte[]? Bytes { get; private set; }

    public long Version { get; private set; } = -1;

    /// <summary>A segment cache entry, looked up again for each replay (it holds while the cache keeps the segment).</summary>
    public Func<ReadySegment?>? Segment { get; private set; }

    public static AnswerNote? Of(HttpContext context) => context.Features.Get<AnswerNote>();

    public void Rendered(byte[] bytes, long version)
    {
        Bytes = bytes;
        Version = version;
    }

    public void Cached<TKey>(SegmentCache cache, TKey key)
        where TKey : struct, IEquatable<TKey> =>
        Segment = () => cache.TryGetReady(key, out var segment) ? segment : null;
}

/// <summary>
/// Answers players were given, kept for <see cref="Transport.AnswerReplay"/> under their request's target, Host and
/// Accept-Encoding: the head as sent (without its Date) and where the body is. One holds while its point is the one at
/// that path, not retired, and (for a rendered output) still at the version it was rendered for; one that no longer holds
/// is dropped when it is next asked for, and every <see cref="SweepEvery"/> recordings all are looked over, so a deleted
/// point is not kept alive by its answers. Bounded by count and by the rendered bytes it keeps alive: past either, it
/// starts over.
/// </summary>
internal sealed class AnswerStore(PointRegistry registry)
{
    public const int MaxEntries = 4096;
    public const long MaxBytes = 64L * 1024 * 1024;
    private static readonly byte[] _statusLine = "HTTP/1.1 200 OK\r\n"u8.ToArray();
    public const int SweepEvery = 1024;
    private readonly ConcurrentDictionary<string, Entry> _entries = new(StringComparer.Ordinal);
    private long _bytes;
    private long _recorded;

    public int Count => _entries.Count;

    /// <param name="PointName">The point's path as the registry finds it.</param>
    /// <param name="Version">The point's version the body belongs to; -1 for a segment (immutable while cached).</param>
    /// <param name="Format">Its output, for the request counters (hls, dash, smooth).</param>
    /// <param name="Viewer">A manifest, playlist or MPD: its client counts as a viewer of the point.</param>
    internal sealed record Entry(Point Point, string PointName, long Version, byte[] Head, int Length, byte[]? Bytes, Func<ReadySegment?>? Segment, string Format, bool Viewer);

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
    public void Forget(string key, Entry entry) => _entries.TryRemove(new KeyValuePair<string, Entry>(key, entry));

    private bool Holds(Entry entry) => !entry.Point.Retired && (entry.Version < 0 || entry.Point.Version == entry.Version)
        && ReferenceEquals(registry.Find(entry.PointName), entry.Point);

    /// <summary>
    /// A plain-HTTP/1.1 GET with no query or percent-encoding, whose headers are a Host, at most one Accept-Encoding,
    /// keep-alive, and others no answer reads: what <see cref="Transport.RequestHead.Replayable"/> accepts on the wire.
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
            var ok = name.Equals("Host", StringComparison.OrdinalIgnoreCase) || name.Equals("Accept-Encoding", StringComparison.OrdinalIgnoreCase)
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
            || context.RequestAborted.IsCancellationRequested || (note.Bytes is null && note.Segment is null)
            || (note.Bytes is { } bytes && bytes.Length != length) || Head(response.Headers, length) is not { } head)
        {
            return;
        }

        var kept = note.Bytes?.Length ?? 0;
        if (_entries.Count >= MaxEntries || Interlocked.Add(ref _bytes, kept) > MaxBytes)
        {
            _entries.Clear();
            Interlocked.Exchange(ref _bytes, kept);
        }

        if (Interlocked.Increment(ref _recorded) % SweepEvery == 0)
        {
            foreach (var (stored, entry) in _entries)
            {
                if (!Holds(entry))
                {
                    Forget(stored, entry);
                }
            }
        }

        var request = context.Request;
        var key = Transport.AnswerReplay.Key(request.Path.Value!, request.Headers.Host.ToString(), request.Headers.AcceptEncoding.ToString());
        _entries[key] = new Entry(point, point.Path.Value, note.Bytes is null ? -1 : note.Version, head, (int)length, note.Bytes, note.Segment, format, viewer);
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
