using System.Globalization;

namespace PublishingPoint.Server.Archive;

/// <summary>
/// How a stream's archive files are named: "{id}.ismv" first, then "{id}.{n}.ismv", n counting past every file of the
/// stream in the folder, so a name is never reused (an index entry might still name a file deleted past the archive's
/// length). Written at ingest, read back at recovery.
/// </summary>
internal static class ArchiveNames
{
    private const string Extension = ".ismv";

    /// <summary>The path of the stream's next file in <paramref name="directory"/>.</summary>
    public static string Next(string directory, string streamId)
    {
        var last = -1L;
        foreach (var file in Directory.EnumerateFiles(directory, "*" + Extension))
        {
            if (RunOf(Path.GetFileName(file), streamId) is { } run)
            {
                last = Math.Max(last, run);
            }
        }

        return Path.Combine(directory, last < 0 ? streamId + Extension : string.Create(CultureInfo.InvariantCulture, $"{streamId}.{last + 1}{Extension}"));
    }

    /// <summary>
    /// Whose file <paramref name="fileName"/> is: "enc1.ismv" and "enc1.3.ismv" are stream enc1's (an id that itself ends
    /// in a dot and digits reads as an earlier stream's: its files are still served, only its continuation after a
    /// restart starts a new file).
    /// </summary>
    public static string StreamOf(string fileName)
    {
        var name = Path.GetFileNameWithoutExtension(fileName);
        var dot = name.LastIndexOf('.');
        return dot > 0 && Run(name.AsSpan(dot + 1)) is not null ? name[..dot] : name;
    }

    // 0 for "{id}.ismv", n for "{id}.{n}.ismv", null for another stream's file.
    private static long? RunOf(string fileName, string streamId)
    {
        if (fileName == streamId + Extension)
        {
            return 0;
        }

        return fileName.Length > streamId.Length + 1 + Extension.Length && fileName.StartsWith(streamId + ".", StringComparison.Ordinal)
            ? Run(fileName.AsSpan(streamId.Length + 1, fileName.Length - streamId.Length - 1 - Extension.Length))
            : null;
    }

    private static long? Run(ReadOnlySpan<char> digits) =>
        long.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out var run) ? run : null;
}
