using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace PublishingPoint.Benchmarks.Live;

/// <summary>
/// One live channel's encoder: <c>ffmpeg -re -stream_loop -1 -i ladder.mp4 -c copy</c> with one Smooth ingest
/// POST per rendition (<c>Streams(hi)</c> with the audio, <c>Streams(mid)</c>, <c>Streams(lo)</c>), or only
/// the first one. It watches ffmpeg's progress: an encoder whose output time falls behind the wall clock
/// (the POST stalled: the server did not read) or that exits early is reported.
/// </summary>
internal sealed partial class LiveEncoder : ILiveEncoder
{
    private readonly Process _process;
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly List<(double Wall, double Media)> _progress = [];
    private readonly List<string> _messages = [];
    private readonly Task _reader;
    private bool _stopping;

    private LiveEncoder(Process process)
    {
        _process = process;
        _reader = Task.Run(ReadStderrAsync);
    }

    /// <summary>ffmpeg exited before it was stopped (the POST failed, or ffmpeg did).</summary>
    public bool ExitedEarly => _process.HasExited && !_stopping;

    /// <summary>How far ffmpeg's output time fell behind the wall clock, beyond its smallest lag, in seconds.</summary>
    public double MaxLagSeconds
    {
        get
        {
            lock (_progress)
            {
                if (_progress.Count == 0)
                {
                    return 0;
                }

                var lags = _progress.Select(p => p.Wall - p.Media).ToArray();
                var max = 0.0;
                var min = double.MaxValue;
                foreach (var lag in lags)
                {
                    min = Math.Min(min, lag);
                    max = Math.Max(max, lag - min);
                }

                return max;
            }
        }
    }

    /// <summary>Media seconds ffmpeg has sent so far.</summary>
    public double MediaSeconds
    {
        get
        {
            lock (_progress)
            {
                return _progress.Count == 0 ? 0 : _progress[^1].Media;
            }
        }
    }

    /// <summary>ffmpeg's own messages (errors), last few lines.</summary>
    public string Messages
    {
        get
        {
            lock (_messages)
            {
                return string.Join('\n', _messages.TakeLast(10));
            }
        }
    }

    /// <summary>Starts pushing <paramref name="input"/> to the point at <paramref name="pointUrl"/> (ending in ".isml/").</summary>
    /// <param name="lowLatency">Low-latency CMAF (a moof every 200 ms, prft wall clock) instead of Smooth.</param>
    public static LiveEncoder Start(string input, Uri pointUrl, bool fullLadder, bool lowLatency = false)
    {
        var info = new ProcessStartInfo("ffmpeg") { UseShellExecute = false, RedirectStandardError = true, RedirectStandardInput = true };
        List<string> arguments = ["-hide_banner", "-loglevel", "error", "-stats", "-stats_period", "0.5", "-re", "-stream_loop", "-1", "-i", input];
        (string Id, string[] Maps)[] outputs = fullLadder
            ? [("hi", ["0:0", "0:3"]), ("mid", ["0:1"]), ("lo", ["0:2"])]
            : [("hi", ["0:0", "0:3"])];
        foreach (var (id, maps) in outputs)
        {
            foreach (var map in maps)
            {
                arguments.Add("-map");
                arguments.Add(map);
            }

            arguments.AddRange(lowLatency
                ? ["-c", "copy", "-movflags", "cmaf+empty_moov+default_base_moof+frag_keyframe", "-frag_duration", "200000", "-write_prft", "wallclock", "-f", "mp4", new Uri(pointUrl, $"Streams({id})").ToString()]
                : ["-c", "copy", "-movflags", "isml+frag_keyframe", "-f", "ismv", new Uri(pointUrl, $"Streams({id})").ToString()]);
        }

        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        return new LiveEncoder(Process.Start(info) ?? throw new InvalidOperationException("could not start ffmpeg"));
    }

    /// <summary>Stops ffmpeg the way an operator would ('q': it ends each stream with its 'mfra'), killing it if it does not exit.</summary>
    public async ValueTask DisposeAsync()
    {
        _stopping = true;
        if (!_process.HasExited)
        {
            try
            {
                await _process.StandardInput.WriteAsync('q');
                await _process.StandardInput.FlushAsync();
            }
            catch (IOException)
            {
                // already gone
            }

            using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            try
            {
                await _process.WaitForExitAsync(limit.Token);
            }
            catch (OperationCanceledException)
            {
                _process.Kill(entireProcessTree: true);
                await _process.WaitForExitAsync(CancellationToken.None);
            }
        }

        await _reader;
        _process.Dispose();
    }

    /// <summary>ffmpeg's progress lines end with '\r', its messages with '\n'.</summary>
    private async Task ReadStderrAsync()
    {
        var reader = _process.StandardError;
        var buffer = new char[4096];
        var line = new StringBuilder();
        int read;
        while ((read = await reader.ReadAsync(buffer)) > 0)
        {
            for (var i = 0; i < read; i++)
            {
                if (buffer[i] is '\r' or '\n')
                {
                    Line(line.ToString());
                    line.Clear();
                }
                else
                {
                    line.Append(buffer[i]);
                }
            }
        }

        Line(line.ToString());
    }

    private void Line(string line)
    {
        if (line.Length == 0)
        {
            return;
        }

        var time = ProgressTime().Match(line);
        if (time.Success)
        {
            var media = (int.Parse(time.Groups[1].Value, CultureInfo.InvariantCulture) * 3600) + (int.Parse(time.Groups[2].Value, CultureInfo.InvariantCulture) * 60)
                + double.Parse(time.Groups[3].Value, CultureInfo.InvariantCulture);
            lock (_progress)
            {
                _progress.Add((_clock.Elapsed.TotalSeconds, media));
            }

            return;
        }

        if (line.StartsWith("frame=", StringComparison.Ordinal) || line.StartsWith("size=", StringComparison.Ordinal))
        {
            return; // progress before the first timestamp (time=N/A)
        }

        lock (_messages)
        {
            _messages.Add(line);
        }
    }

    [GeneratedRegex(@"time=(\d+):(\d+):(\d+(?:\.\d+)?)", RegexOptions.CultureInvariant)]
    private static partial Regex ProgressTime();
}
