using System.Buffers.Binary;
using System.Diagnostics;
using PublishingPoint.Media.IsoBmff;

namespace PublishingPoint.Benchmarks.Live;

/// <summary>One fragment (moof+mdat) of a recorded Smooth stream, where its 'tfxd' time is, and when it starts.</summary>
internal sealed record RecordedFragment(byte[] Bytes, int TfxdTimeOffset, long Time, long Duration, long Timescale)
{
    public double Seconds => (double)Time / Timescale;

    public double EndSeconds => (double)(Time + Duration) / Timescale;
}

/// <summary>
/// What ffmpeg POSTs for one rendition of the live ladder (<c>-c copy -f ismv</c>, recorded once to a file): the header
/// (ftyp, the ISML manifest, moov) and the fragments, so a lean pusher can send the same bytes, paced, without an
/// ffmpeg process per channel. The fragments' times come from their 'tfxd' (Smooth's absolute fragment time).
/// </summary>
internal sealed class LiveRecording
{
    private static readonly byte[] _tfxd = Convert.FromHexString("6d1d9b0542d544e680e2141daff757b2");

    private LiveRecording(string id, byte[] header, IReadOnlyList<RecordedFragment> fragments)
    {
        Id = id;
        Header = header;
        Fragments = fragments;
    }

    /// <summary>The stream id it is pushed as: hi (720p with the audio), mid, lo.</summary>
    public string Id { get; }

    public byte[] Header { get; }

    /// <summary>In the order ffmpeg sent them (video and audio interleaved by time).</summary>
    public IReadOnlyList<RecordedFragment> Fragments { get; }

    /// <summary>Seconds from the first fragment's start to the last one's end, over every track of every recording: the loop length.</summary>
    public static double Period(IEnumerable<LiveRecording> recordings)
    {
        var all = recordings.SelectMany(r => r.Fragments).ToList();
        return all.Max(f => f.EndSeconds) - all.Min(f => f.Seconds);
    }

    /// <summary>The ladder's three renditions, recorded next to <paramref name="ladder"/> unless they are already there.</summary>
    public static async Task<LiveRecording[]> EnsureAsync(string ladder, CancellationToken cancellationToken)
    {
        (string Id, string[] Maps)[] renditions = [("hi", ["0:0", "0:3"]), ("mid", ["0:1"]), ("lo", ["0:2"])];
        var recordings = new List<LiveRecording>();
        foreach (var (id, maps) in renditions)
        {
            var file = Path.Combine(Path.GetDirectoryName(ladder)!, $"{Path.GetFileNameWithoutExtension(ladder)}-{id}.ismv");
            if (!File.Exists(file))
            {
                await RecordAsync(ladder, maps, file, cancellationToken);
            }

            recordings.Add(Parse(id, await File.ReadAllBytesAsync(file, cancellationToken)));
        }

        return [.. recordings];
    }

    private static async Task RecordAsync(string ladder, string[] maps, string file, CancellationToken cancellationToken)
    {
        var info = new ProcessStartInfo("ffmpeg") { UseShellExecute = false, RedirectStandardError = true, RedirectStandardInput = true };
        List<string> arguments = ["-hide_banner", "-loglevel", "error", "-y", "-i", ladder];
        foreach (var map in maps)
        {
            arguments.AddRange(["-map", map]);
        }

        arguments.AddRange(["-c", "copy", "-movflags", "isml+frag_keyframe", "-f", "ismv", file + ".partial"]);
        arguments.ForEach(info.ArgumentList.Add);
        using var process = Process.Start(info) ?? throw new InvalidOperationException("could not start ffmpeg");
        process.StandardInput.Close();
        var stderr = await process.StandardError.ReadToEndAsync(cancellationToken);
        await process.WaitForExitAsync(cancellationToken);
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"ffmpeg could not record {file} ({process.ExitCode}):\n{stderr}");
        }

        File.Move(file + ".partial", file, overwrite: true);
    }

    public static LiveRecording Parse(string id, byte[] body)
    {
        var timescales = new Dictionary<uint, long>();
        byte[]? header = null;
        var fragments = new List<RecordedFragment>();
        var at = 0;
        while (at + 8 <= body.Length)
        {
            var size = (int)BinaryPrimitives.ReadUInt32BigEndian(body.AsSpan(at));
            var type = body.AsSpan(at + 4, 4);
            if (size < 8 || at + size > body.Length || type.SequenceEqual("mfra"u8))
            {
                break;
            }

            if (type.SequenceEqual("moov"u8))
            {
                foreach (var track in MovieReader.Read(body.AsMemory(at, size)))
                {
                    timescales[track.TrackId] = track.Timescale;
                }
            }
            else if (type.SequenceEqual("moof"u8))
            {
                header ??= body[..at];
                var mdatSize = (int)BinaryPrimitives.ReadUInt32BigEndian(body.AsSpan(at + size));
                var bytes = body[at..(at + size + mdatSize)];
                var tfhd = bytes.AsSpan(0, size).IndexOf("tfhd"u8);
                var trackId = BinaryPrimitives.ReadUInt32BigEndian(bytes.AsSpan(tfhd + 8));
                var tfxd = bytes.AsSpan(0, size).IndexOf(_tfxd);
                if (tfhd < 0 || tfxd < 0 || bytes[tfxd + 16] != 1)
                {
                    throw new InvalidOperationException($"{id}: a fragment without tfhd or a version 1 tfxd");
                }

                fragments.Add(new RecordedFragment(bytes, tfxd + 20, BinaryPrimitives.ReadInt64BigEndian(bytes.AsSpan(tfxd + 20)),
                    BinaryPrimitives.ReadInt64BigEndian(bytes.AsSpan(tfxd + 28)), timescales[trackId]));
                at += mdatSize;
            }

            at += size;
        }

        return header is null || fragments.Count == 0
            ? throw new InvalidOperationException($"{id}: no fragments recorded")
            : new LiveRecording(id, header, fragments);
    }
}
