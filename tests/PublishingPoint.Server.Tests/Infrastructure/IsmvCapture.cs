namespace PublishingPoint.Server.Tests.Infrastructure;

/// <summary>
/// A Smooth ingest body exactly as ffmpeg streams it (ismv to a pipe is the same byte stream as its HTTP POST),
/// made once per run so tests can replay, cut or corrupt it deterministically.
/// </summary>
public static class IsmvCapture
{
    private static readonly Lazy<Task<byte[]>> _sixSeconds = new(() => MakeAsync(6, 400, 64));

    /// <summary>6 s, 320x180 H.264 at 400 kbit/s with AAC at 64 kbit/s, 2 s fragments.</summary>
    public static Task<byte[]> SixSecondsAsync() => _sixSeconds.Value;

    public static Task<byte[]> MakeAsync(int seconds, int videoKbps, int audioKbps, int width = 320, int height = 180) =>
        CaptureAsync(Encoder.SmoothPushArguments, new EncoderSettings { Seconds = seconds, VideoKbps = videoKbps, AudioKbps = audioKbps, Width = width, Height = height, RealTime = false });

    /// <summary>A radio channel's push: 8 s of a 440 Hz tone as AAC at 128 kbit/s, CMAF in 2 s fragments, no video.</summary>
    public static Task<byte[]> AudioOnlyCmafAsync() => CaptureAsync(
        (target, _) =>
        [
            "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000", "-t", "8",
            "-c:a", "aac", "-b:a", "128k", "-movflags", "cmaf+empty_moov+default_base_moof", "-frag_duration", "2000000",
            "-f", "mp4", target.ToString(),
        ],
        new EncoderSettings { RealTime = false });

    /// <summary>What ffmpeg would POST for these arguments, written to a pipe instead.</summary>
    public static async Task<byte[]> CaptureAsync(Func<Uri, EncoderSettings, IEnumerable<string>> arguments, EncoderSettings settings)
    {
        var directory = TempDirectory.Create("pp-capture");
        var file = Path.Combine(directory, "capture.ismv");
        var args = arguments(new Uri("http://placeholder/"), settings).ToList();
        args[^1] = "pipe:1";
        var command = "ffmpeg " + string.Join(' ', args.Select(a => "'" + a + "'")) + " > '" + file + "'";
        await Tool.RunCheckedAsync("bash", ["-c", command]);
        return await File.ReadAllBytesAsync(file);
    }
    /// <summary>What an encoder still pushing has sent of <paramref name="capture"/>: everything before its 'mfra'.</summary>
    public static byte[] WithoutEnd(byte[] capture) => capture[..Boxes.TopLevel(capture).Single(b => b.Type == "mfra").Offset];

    /// <summary>A copy whose fragments start <paramref name="ticks"/> (100 ns) later ('tfxd'): the same encoder's media later on its clock.</summary>
    public static byte[] Later(byte[] capture, long ticks)
    {
        var later = (byte[])capture.Clone();
        var tfxd = Convert.FromHexString("6D1D9B0542D544E680E2141DAFF757B2");
        foreach (var moof in Boxes.TopLevel(later).Where(b => b.Type == "moof"))
        {
            var at = later.AsSpan(moof.Offset, moof.Size).IndexOf(tfxd) + moof.Offset + 16 + 4;
            System.Buffers.Binary.BinaryPrimitives.WriteInt64BigEndian(later.AsSpan(at), System.Buffers.Binary.BinaryPrimitives.ReadInt64BigEndian(later.AsSpan(at)) + ticks);
        }

        return later;
    }
}
