using System.Buffers;
using System.Buffers.Binary;
using System.Diagnostics;
using System.Net;

namespace PublishingPoint.Benchmarks.Live;

/// <summary>
/// A lean live encoder: one chunked POST per rendition (<c>Streams(hi)</c> with the audio, <c>mid</c>, <c>lo</c>) sending
/// the recorded bytes ffmpeg sends, each fragment when its media has ended on the wall clock (as <c>ffmpeg -re</c> with
/// frag_keyframe does), looping with every 'tfxd' time moved on by the recording's length. Many channels share this
/// process and a few threads, so the benchmark measures the server and not its encoders.
/// </summary>
internal sealed class ReplayEncoder : ILiveEncoder
{
    private readonly CancellationTokenSource _stop = new();
    private readonly Lock _gate = new();
    private readonly Task[] _streams;
    private double _minLag = double.MaxValue;
    private double _maxExcessLag;
    private string? _error;
    private bool _stopping;

    private ReplayEncoder(HttpClient http, IReadOnlyList<LiveRecording> recordings, Uri pointUrl)
    {
        var start = Stopwatch.GetTimestamp();
        var timing = new Timing(recordings.SelectMany(r => r.Fragments).Min(f => f.Seconds), LiveRecording.Period(recordings), start);
        _streams = [.. recordings.Select(r => Task.Run(() => PushAsync(http, r, timing, new Uri(pointUrl, $"Streams({r.Id})"))))];
    }

    /// <summary>When the channel started, its media's first time (seconds) and the loop length.</summary>
    private sealed record Timing(double First, double Period, long Start);

    public bool ExitedEarly
    {
        get
        {
            lock (_gate)
            {
                return _error is not null && !_stopping;
            }
        }
    }

    public double MaxLagSeconds
    {
        get
        {
            lock (_gate)
            {
                return _maxExcessLag;
            }
        }
    }

    public string Messages
    {
        get
        {
            lock (_gate)
            {
                return _error ?? string.Empty;
            }
        }
    }

    /// <summary>Starts the channel's streams at once (<paramref name="http"/> without a timeout: the answer comes when the body ends).</summary>
    public static ReplayEncoder Start(HttpClient http, IReadOnlyList<LiveRecording> recordings, Uri pointUrl) => new(http, recordings, pointUrl);

    /// <summary>Ends every body (the encoder stopped: the point goes on to VOD as after ffmpeg's 'q') and waits for the answers.</summary>
    public async ValueTask DisposeAsync()
    {
        lock (_gate)
        {
            _stopping = true;
        }

        await _stop.CancelAsync();
        await Task.WhenAll(_streams);
        _stop.Dispose();
    }

    private async Task PushAsync(HttpClient http, LiveRecording recording, Timing timing, Uri url)
    {
        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, url) { Content = new ReplayContent(this, recording, timing, _stop.Token) };
            using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, CancellationToken.None);
            if (response.StatusCode != HttpStatusCode.OK)
            {
                Fail($"{recording.Id}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
            }
        }
        catch (Exception e) when (e is HttpRequestException or IOException or TaskCanceledException)
        {
            Fail($"{recording.Id}: {e.Message}");
        }
    }

    private void Fail(string message)
    {
        lock (_gate)
        {
            _error ??= message;
        }
    }

    private void Lag(double seconds)
    {
        lock (_gate)
        {
            _minLag = Math.Min(_minLag, seconds);
            _maxExcessLag = Math.Max(_maxExcessLag, seconds - _minLag);
        }
    }

    /// <summary>The body: the header, then the fragments paced on the wall clock, until the encoder is stopped.</summary>
    private sealed class ReplayContent(ReplayEncoder owner, LiveRecording recording, Timing timing, CancellationToken stop) : HttpContent
    {
        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context)
        {
            await stream.WriteAsync(recording.Header, CancellationToken.None);
            for (var loop = 0L; ; loop++)
            {
                foreach (var fragment in recording.Fragments)
                {
                    var due = fragment.EndSeconds - timing.First + (loop * timing.Period);
                    var wait = due - Stopwatch.GetElapsedTime(timing.Start).TotalSeconds;
                    try
                    {
                        if (wait > 0)
                        {
                            await Task.Delay(TimeSpan.FromSeconds(wait), stop);
                        }
                    }
                    catch (OperationCanceledException)
                    {
                        return; // stopped: the body ends here, after a whole fragment
                    }

                    var bytes = ArrayPool<byte>.Shared.Rent(fragment.Bytes.Length);
                    try
                    {
                        fragment.Bytes.CopyTo(bytes, 0);
                        var time = fragment.Time + (long)Math.Round(loop * timing.Period * fragment.Timescale);
                        BinaryPrimitives.WriteInt64BigEndian(bytes.AsSpan(fragment.TfxdTimeOffset), time);
                        await stream.WriteAsync(bytes.AsMemory(0, fragment.Bytes.Length), CancellationToken.None);
                        await stream.FlushAsync(CancellationToken.None);
                    }
                    finally
                    {
                        ArrayPool<byte>.Shared.Return(bytes);
                    }

                    owner.Lag(Stopwatch.GetElapsedTime(timing.Start).TotalSeconds - due);
                }
            }
        }

        protected override bool TryComputeLength(out long length)
        {
            length = 0;
            return false;
        }
    }
}
