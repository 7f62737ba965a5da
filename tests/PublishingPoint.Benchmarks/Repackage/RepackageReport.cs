using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace PublishingPoint.Benchmarks.Repackage;

/// <summary>One row: a rendition (or the whole ladder) repackaged by us and by ffmpeg.</summary>
internal sealed record ComparisonRow(string Rendition, string Input, double MediaSeconds, int Segments, Measurement Ours, Measurement Ffmpeg, Measurement FfmpegLooped)
{
    /// <summary>Ours over ffmpeg in media seconds per wall second (the same as ffmpeg's time over ours): the figure that counts.</summary>
    public double RealTimeRatio => Ours.RealTimeFactor / Ffmpeg.RealTimeFactor;

    public double ThroughputRatio => Ours.MegabytesPerSecond / Ffmpeg.MegabytesPerSecond;

    /// <summary>Against ffmpeg reading the input several times in one process: its start-up spread thin, for comparison only.</summary>
    public double RealTimeRatioToLooped => Ours.RealTimeFactor / FfmpegLooped.RealTimeFactor;
}

internal sealed record RepackageReport(
    DateTimeOffset Date,
    string Machine,
    string Ffmpeg,
    int Seconds,
    string Preset,
    int FfmpegLoops,
    string OursWhat,
    string FfmpegWhat,
    IReadOnlyList<ComparisonRow> Renditions,
    ComparisonRow Ladder)
{
    private static readonly JsonSerializerOptions _json = new() { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.CamelCase, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public static RepackageReport Create(
        int seconds,
        string preset,
        int loops,
        IReadOnlyList<RenditionInput> inputs,
        IReadOnlyList<Measurement> ours,
        IReadOnlyList<Measurement> theirs,
        IReadOnlyList<Measurement> looped,
        string ffmpegVersion)
    {
        var rows = new List<ComparisonRow>();
        for (var i = 0; i < inputs.Count; i++)
        {
            var r = inputs[i].Rendition;
            var input = string.Create(CultureInfo.InvariantCulture, $"{r.Width}x{r.Height} H.264 {r.VideoKbps}k + AAC {Rendition.AudioKbps}k");
            rows.Add(new ComparisonRow(r.Name, input, ours[i].MediaSeconds, ours[i].Segments, ours[i], theirs[i], looped[i]));
        }

        // The ladder: every rendition once, one after the other; media seconds are the stream's length (real time for the set).
        var media = ours.Max(m => m.MediaSeconds);
        var ourSet = new Measurement("ladder", ours.Sum(m => m.Segments), media, ours.Sum(m => m.OutputBytes), ours.Sum(m => m.BestSeconds), ours.Sum(m => m.MedianSeconds),
            ours[0].Runs, ours.Sum(m => m.AllocatedBytesPerSegment * m.Segments) / ours.Sum(m => m.Segments));
        var theirSet = new Measurement("ladder", 0, media, theirs.Sum(m => m.OutputBytes), theirs.Sum(m => m.BestSeconds), theirs.Sum(m => m.MedianSeconds), theirs[0].Runs, null);
        var loopedSet = new Measurement("ladder", 0, media * loops, looped.Sum(m => m.OutputBytes), looped.Sum(m => m.BestSeconds), looped.Sum(m => m.MedianSeconds), looped[0].Runs, null);
        var ladder = new ComparisonRow("ladder", $"{inputs.Count} renditions", media, ourSet.Segments, ourSet, theirSet, loopedSet);

        return new RepackageReport(DateTimeOffset.UtcNow, RepackageCommand.Machine(), ffmpegVersion, seconds, preset, loops,
            "HlsPackager.TsSegmentAsync for every segment of the rendition, audio muxed; fragments in memory; best pass",
            "ffmpeg -v error -y -i <rendition video + audio, ismv> -c copy -f mpegts out.ts; wall clock incl. process start; best run",
            rows, ladder);
    }

    public string Table()
    {
        var inv = CultureInfo.InvariantCulture;
        var text = new StringBuilder();
        text.AppendLine(inv, $"HLS TS repackaging, {Seconds} s stream ({Preset}); {Machine}; {Ffmpeg}");
        text.AppendLine(inv, $"{"rendition",-10} {"segs",5} | {"ours MB out",11} {"ms",8} {"MB/s",8} {"x real",8} {"alloc/seg",10} | {"ffmpeg MB",9} {"ms",8} {"MB/s",8} {"x real",8} | {"ratio x-rt",10} {"MB/s",6} | {$"ffmpeg x{FfmpegLoops} x real",17} {"ratio",6}");
        text.AppendLine(new string('-', 168));
        foreach (var row in Renditions.Append(Ladder))
        {
            if (row == Ladder)
            {
                text.AppendLine(new string('-', 168));
            }

            var o = row.Ours;
            var f = row.Ffmpeg;
            var alloc = o.AllocatedBytesPerSegment is { } a ? a.ToString("F0", inv) + " B" : "n/a";
            text.AppendLine(inv,
                $"{row.Rendition,-10} {row.Segments,5} | {o.OutputBytes / 1e6,11:F2} {o.BestSeconds * 1000,8:F1} {o.MegabytesPerSecond,8:F0} {o.RealTimeFactor,8:F0} {alloc,10} | {f.OutputBytes / 1e6,9:F2} {f.BestSeconds * 1000,8:F1} {f.MegabytesPerSecond,8:F0} {f.RealTimeFactor,8:F0} | {row.RealTimeRatio,10:F2} {row.ThroughputRatio,6:F2} | {row.FfmpegLooped.RealTimeFactor,17:F0} {row.RealTimeRatioToLooped,6:F2}");
        }

        text.AppendLine();
        text.AppendLine("ms: best wall time for all segments (ours: best of the timed passes; ffmpeg: best run, process start included).");
        text.AppendLine("alloc/seg: bytes allocated per segment produced, its output included (output arrays come from the server's pool and go back after each segment).");
        text.AppendLine("x real: media seconds per wall second; ladder = all renditions one after the other, so 'x real' is for the whole set.");
        text.AppendLine("ratio x-rt = ours x real / ffmpeg x real (the figure that counts); MB/s ratio compares each one's own TS output.");
        text.AppendLine(inv, $"ffmpeg x{FfmpegLoops}: the input read {FfmpegLoops} times in one run (-stream_loop {FfmpegLoops - 1}), so its start-up (~0.1 s) is spread thin; ratio = ours against that.");
        return text.ToString();
    }

    public async Task SaveAsync(string path, CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        await using var file = File.Create(path);
        await JsonSerializer.SerializeAsync(file, this, _json, cancellationToken);
    }
}
