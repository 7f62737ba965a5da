using System.Diagnostics;
using System.Globalization;
using System.Net;

namespace PublishingPoint.Benchmarks.Live;

/// <summary>One segment line of a media playlist, with its media end by the playlist's own clock.</summary>
internal sealed record PlaylistSegment(long Number, string Uri, double DurationSeconds, DateTime? MediaEndUtc);

/// <summary>
/// A player as the load generator sees it: opens the channel's master playlist, then reloads every rendition's
/// live media playlist every poll interval, each on its own timer, and GETs each segment the first time it is listed (starting, as players
/// do, three segments from the live edge). As in a player, the playlists are reloaded on their timer while each
/// rendition's segments download one after another (a queue per rendition, as a player has one per media type): when a segment was listed is the server's doing, how long it then took to
/// arrive is reported apart (slow when later than the player would play it: its duration after it was listed, the k-th of
/// a joining player's three k durations). Every listed segment must answer 2xx; anything else is an error.
/// </summary>
internal sealed class HlsViewer(HttpClient http, Uri masterUrl, int renditions, ChannelWatch watch, TimeSpan pollEvery)
{
    /// <summary>Parses a media playlist: segment numbers from the URI ("…/12.ts"), media end from EXT-X-PROGRAM-DATE-TIME + EXTINF.</summary>
    public static List<PlaylistSegment> Parse(string playlist)
    {
        var result = new List<PlaylistSegment>();
        DateTime? clock = null;
        double duration = 0;
        foreach (var raw in playlist.Split('\n'))
        {
            var line = raw.Trim();
            if (line.StartsWith("#EXT-X-PROGRAM-DATE-TIME:", StringComparison.Ordinal))
            {
                clock = DateTimeOffset.Parse(line["#EXT-X-PROGRAM-DATE-TIME:".Length..], CultureInfo.InvariantCulture).UtcDateTime;
            }
            else if (line.StartsWith("#EXTINF:", StringComparison.Ordinal))
            {
                var text = line["#EXTINF:".Length..];
                var comma = text.IndexOf(',', StringComparison.Ordinal);
                duration = double.Parse(comma < 0 ? text : text[..comma], CultureInfo.InvariantCulture);
            }
            else if (line.Length > 0 && !line.StartsWith('#'))
            {
                var name = line[(line.LastIndexOf('/') + 1)..];
                var dot = name.IndexOf('.', StringComparison.Ordinal);
                var number = long.Parse(dot < 0 ? name : name[..dot], CultureInfo.InvariantCulture);
                clock = clock?.AddSeconds(duration);
                result.Add(new PlaylistSegment(number, line, duration, clock));
            }
        }

        return result;
    }

    /// <summary>Plays until <paramref name="cancellationToken"/> fires; waits for the channel to appear first (404 until its first fragments).</summary>
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        try
        {
            var variants = await OpenAsync(cancellationToken);
            await Task.WhenAll(variants.Select(v => PlayAsync(v, cancellationToken)));
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // the run is over
        }
    }

    // Each media playlist on its own timer and with its own download queue, as a player's loaders are per media type
    // (hls.js reloads and downloads its level's and its audio track's apart): one slow answer delays the listings and
    // the downloads of its own rendition, not those of the others. A segment's due time counts only the segments
    // before it in its own queue.
    private async Task PlayAsync(Uri variant, CancellationToken cancellationToken)
    {
        var downloads = System.Threading.Channels.Channel.CreateUnbounded<Download>(new() { SingleReader = true, SingleWriter = true });
        var loader = Task.Run(() => DownloadAsync(downloads.Reader, cancellationToken), CancellationToken.None);
        try
        {
            await ReloadAsync(variant, downloads.Writer, cancellationToken);
        }
        finally
        {
            downloads.Writer.TryComplete();
            await loader;
        }
    }

    private async Task ReloadAsync(Uri variant, System.Threading.Channels.ChannelWriter<Download> downloads, CancellationToken cancellationToken)
    {
        try
        {
            var state = new PlaylistState();
            var clock = Stopwatch.StartNew();
            while (!cancellationToken.IsCancellationRequested)
            {
                var round = clock.Elapsed;
                await PollAsync(variant, state, downloads, cancellationToken);
                var wait = pollEvery - (clock.Elapsed - round);
                if (wait > TimeSpan.Zero)
                {
                    await Task.Delay(wait, cancellationToken);
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // the run is over
        }
    }

    private async Task DownloadAsync(System.Threading.Channels.ChannelReader<Download> downloads, CancellationToken cancellationToken)
    {
        var buffer = new byte[81920];
        try
        {
            await foreach (var (uri, listedAt, due) in downloads.ReadAllAsync(cancellationToken))
            {
                if (await FetchAsync(uri, buffer, cancellationToken))
                {
                    watch.Delivered((DateTime.UtcNow - listedAt).TotalSeconds, due);
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // the run is over
        }
    }

    private async Task<Uri[]> OpenAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            try
            {
                using var response = await http.GetAsync(masterUrl, cancellationToken);
                if (response.StatusCode == HttpStatusCode.OK)
                {
                    var text = await response.Content.ReadAsStringAsync(cancellationToken);
                    var variants = text.Split('\n').Select(l => l.Trim()).Where(l => l.Length > 0 && !l.StartsWith('#')).Select(l => new Uri(masterUrl, l)).ToArray();
                    // Until every rendition has its first fragment the master lists fewer variants.
                    if (variants.Length >= renditions)
                    {
                        return variants;
                    }
                }
            }
            catch (Exception e) when (e is HttpRequestException || (e is TaskCanceledException && !cancellationToken.IsCancellationRequested))
            {
                // the server is busy starting; try again
            }

            await Task.Delay(pollEvery, cancellationToken);
        }
    }

    private async Task PollAsync(Uri variant, PlaylistState state, System.Threading.Channels.ChannelWriter<Download> downloads, CancellationToken cancellationToken)
    {
        string text;
        DateTime listedAt;
        try
        {
            using var response = await http.GetAsync(variant, cancellationToken);
            listedAt = DateTime.UtcNow;
            if (!response.IsSuccessStatusCode)
            {
                watch.PlaylistError($"GET {variant.AbsolutePath}: {await RefusalAsync(response, cancellationToken)}");
                return;
            }

            text = await response.Content.ReadAsStringAsync(cancellationToken);
        }
        catch (Exception e) when (e is HttpRequestException || (e is TaskCanceledException && !cancellationToken.IsCancellationRequested))
        {
            watch.PlaylistError($"GET {variant.AbsolutePath}: {(e is TaskCanceledException ? "timed out" : e.Message)}");
            return;
        }

        var segments = Parse(text);
        var key = variant.AbsolutePath;
        var fetched = state.Fetched;
        var first = !state.Seen;
        state.Seen = true;

        var due = 0.0;
        for (var i = 0; i < segments.Count; i++)
        {
            var segment = segments[i];
            if (segment.MediaEndUtc is { } end)
            {
                watch.Listed(key, segment.Number, new SegmentSighting(listedAt, end, segment.DurationSeconds, first));
            }

            if (first && i < segments.Count - 3)
            {
                fetched.Add(segment.Number); // a player joins three segments from the live edge
            }

            if (fetched.Add(segment.Number))
            {
                // A player has until it would play a segment: the newest one its duration, each of the three a joining
                // player fetches at once the durations of those before it as well.
                due += segment.DurationSeconds;
                downloads.TryWrite(new Download(new Uri(variant, segment.Uri), listedAt, due));
            }
        }
    }

    private async Task<bool> FetchAsync(Uri segment, byte[] buffer, CancellationToken cancellationToken)
    {
        try
        {
            using var response = await http.GetAsync(segment, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
            if (!response.IsSuccessStatusCode)
            {
                watch.SegmentError($"GET {segment.AbsolutePath}: {await RefusalAsync(response, cancellationToken)}");
                return false;
            }

            await using var body = await response.Content.ReadAsStreamAsync(cancellationToken);
            long total = 0;
            int read;
            while ((read = await body.ReadAsync(buffer, cancellationToken)) > 0)
            {
                total += read;
            }

            watch.Fetched(total);
            return true;
        }
        catch (Exception e) when (e is HttpRequestException || (e is TaskCanceledException && !cancellationToken.IsCancellationRequested))
        {
            watch.SegmentError($"GET {segment.AbsolutePath}: {(e is TaskCanceledException ? "timed out" : e.Message)}");
            return false;
        }
    }

    // The status and the start of the server's problem text: which of its refusals it was.
    private static async Task<string> RefusalAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        var text = await response.Content.ReadAsStringAsync(cancellationToken);
        return $"{(int)response.StatusCode} {(text.Length > 160 ? text[..160] : text)}";
    }

    private readonly record struct Download(Uri Uri, DateTime ListedAt, double DueSeconds);

    // One media playlist's, kept by the loop that reloads it: the segments asked for, and whether it has been seen yet.
    private sealed class PlaylistState
    {
        public HashSet<long> Fetched { get; } = [];

        public bool Seen { get; set; }
    }
}
