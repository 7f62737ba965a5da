using PublishingPoint.Media.IsoBmff;
using PublishingPoint.Media.Smooth;

namespace PublishingPoint.Server.Archive;

/// <summary>A fragment found in an archive file.</summary>
internal sealed record ScannedFragment(long Offset, int Length, int MoofLength, TrackFragment Traf, long Time, long Duration);

/// <summary>
/// What an archive file holds: its fragments up to <see cref="ValidLength"/> (where the 'mfra' starts, when there is
/// one), how many complete fragments could not be read (skipped, their bytes left in place) and how many bytes after
/// the last complete fragment do not form one (a crash mid-write).
/// </summary>
internal sealed record ScannedArchive(ArchiveHeader Header, IReadOnlyList<ScannedFragment> Fragments, long ValidLength, long? MfraOffset, long TornBytes, int Unreadable);

/// <summary>
/// Reads an archive back after a restart: header boxes, then moof+mdat pairs until the end, an 'mfra', or the first
/// incomplete one, without loading the media data. Boxes up to <c>maxBoxBytes</c> (the ingest limit) are read; a
/// fragment whose 'moof' does not parse is skipped and the scan goes on after its 'mdat'.
/// </summary>
internal static class ArchiveScanner
{
    private const int MaxHeaderBoxBytes = 4 * 1024 * 1024;

    public static ScannedArchive? Scan(string path, long maxBoxBytes)
    {
        using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        var length = file.Length;
        var headerBoxes = new List<byte[]>();
        byte[]? moov = null;
        List<TrackInfo> tracks = [];
        IReadOnlyList<ServerManifestTrack> manifest = [];
        Dictionary<uint, SampleDefaults> defaults = [];
        var fragments = new List<ScannedFragment>();
        var unreadable = 0;
        long position = 0, valid = 0;
        long? mfra = null;
        Span<byte> headerBytes = stackalloc byte[BoxHeader.MaxHeaderLength];
        while (position < length)
        {
            file.Position = position;
            var got = file.ReadAtLeast(headerBytes, (int)Math.Min(headerBytes.Length, length - position), throwOnEndOfStream: false);
            if (!TryHeader(headerBytes[..got], out var header) || position + header.Size > length)
            {
                break;
            }

            if (header.Type == BoxTypes.Moof)
            {
                if (moov is null || header.Size > maxBoxBytes)
                {
                    break;
                }

                var moof = ReadBox(file, position, header.Size);
                var mdatAt = position + header.Size;
                file.Position = mdatAt;
                got = file.ReadAtLeast(headerBytes, (int)Math.Min(headerBytes.Length, length - mdatAt), throwOnEndOfStream: false);
                if (!TryHeader(headerBytes[..got], out var mdat) || mdat.Type != BoxTypes.Mdat || mdatAt + mdat.Size > length)
                {
                    break;
                }

                if (!TryReadTraf(moof, defaults, out var traf))
                {
                    unreadable++;
                    position = mdatAt + mdat.Size;
                    valid = position;
                    continue;
                }

                var previous = fragments.FindLast(f => f.Traf.TrackId == traf.TrackId);
                var time = traf.TfxdTime ?? traf.DecodeTime ?? (previous is null ? 0 : previous.Time + previous.Duration);
                fragments.Add(new ScannedFragment(position, (int)(header.Size + mdat.Size), moof.Length, traf, time, traf.TfxdDuration ?? traf.SummedDuration));
                position = mdatAt + mdat.Size;
                valid = position;
                continue;
            }

            if (header.Type == BoxTypes.Mfra)
            {
                mfra = position;
                break;
            }

            if (moov is null && (header.Type == BoxTypes.Ftyp || header.Type == BoxTypes.Moov || header.Type == BoxTypes.Uuid))
            {
                if (header.Size > MaxHeaderBoxBytes)
                {
                    break; // not a header ingest would have accepted
                }

                var box = ReadBox(file, position, header.Size);
                headerBoxes.Add(box);
                if (header.Type == BoxTypes.Uuid && header.UserType == BoxTypes.IsmlManifest)
                {
                    manifest = ServerManifest.Read(box.AsSpan(header.HeaderLength));
                }
                else if (header.Type == BoxTypes.Moov)
                {
                    moov = box;
                    tracks = MovieReader.Read(moov);
                    defaults = tracks.ToDictionary(t => t.TrackId, t => t.Defaults);
                    valid = position + header.Size;
                }
            }

            position += header.Size;
        }

        if (moov is null)
        {
            return null;
        }

        var scannedHeader = new ArchiveHeader
        {
            Bytes = headerBoxes.SelectMany(b => b).ToArray(),
            Moov = moov,
            Tracks = tracks,
            Manifest = manifest,
        };
        var end = mfra ?? valid;
        return new ScannedArchive(scannedHeader, fragments, end, mfra, mfra is null ? length - valid : 0, unreadable);
    }

    private static bool TryReadTraf(byte[] moof, Dictionary<uint, SampleDefaults> defaults, out TrackFragment traf)
    {
        try
        {
            var trafs = MovieFragmentReader.Read(moof, id => defaults.GetValueOrDefault(id));
            traf = trafs[0];
            return trafs.Count == 1;
        }
        catch (InvalidBoxException)
        {
            traf = null!;
            return false;
        }
    }

    private static bool TryHeader(ReadOnlySpan<byte> bytes, out BoxHeader header)
    {
        try
        {
            return BoxHeader.TryRead(bytes, out header);
        }
        catch (InvalidBoxException)
        {
            header = default;
            return false;
        }
    }

    private static byte[] ReadBox(FileStream file, long position, long size)
    {
        var box = new byte[size];
        file.Position = position;
        file.ReadExactly(box);
        return box;
    }
}
