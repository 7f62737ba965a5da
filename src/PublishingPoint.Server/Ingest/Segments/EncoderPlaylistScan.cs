using System.Text;

namespace PublishingPoint.Server.Ingest.Segments;

/// <summary>
/// Whether an encoder's pushed playlist ends its stream, fed as the body arrives: an HLS playlist with EXT-X-ENDLIST
/// anywhere (a tag split across reads included), an MPD whose first MPD start tag says type="static" (looked for in
/// the first 64 KB; the tag comes first in every MPD an encoder writes).
/// </summary>
internal sealed class EncoderPlaylistScan(bool mpd)
{
    private const int MpdHead = 64 * 1024;
    private static ReadOnlySpan<byte> EndList => "#EXT-X-ENDLIST"u8;

    // An MPD's head grows as it is fed (an encoder PUTs its MPD every segment; most are a few KB), up to 64 KB.
    private byte[] _kept = new byte[mpd ? 4096 : EndList.Length - 1];
    private int _keptLength;
    private bool _endListSeen;

    public bool Ended => mpd ? SegmentIngestEndpoint.IsStaticMpd(Encoding.UTF8.GetString(_kept, 0, _keptLength)) : _endListSeen;

    public void Feed(ReadOnlySpan<byte> bytes)
    {
        if (mpd)
        {
            if (_keptLength + bytes.Length > _kept.Length && _kept.Length < MpdHead)
            {
                Array.Resize(ref _kept, Math.Min(MpdHead, Math.Max(2 * _kept.Length, _keptLength + bytes.Length)));
            }

            var take = Math.Min(bytes.Length, _kept.Length - _keptLength);
            bytes[..take].CopyTo(_kept.AsSpan(_keptLength));
            _keptLength += take;
            return;
        }

        if (_endListSeen || bytes.IsEmpty)
        {
            return;
        }

        // The tail of the previous read and the head of this one: a tag split across two reads.
        Span<byte> seam = stackalloc byte[(2 * EndList.Length) - 2];
        var head = Math.Min(bytes.Length, EndList.Length - 1);
        _kept.AsSpan(0, _keptLength).CopyTo(seam);
        bytes[..head].CopyTo(seam[_keptLength..]);
        _endListSeen = seam[..(_keptLength + head)].IndexOf(EndList) >= 0 || bytes.IndexOf(EndList) >= 0;

        // Keep the last bytes seen: this read's own when it is long enough, else the seam's (the previous tail and all of it).
        var source = bytes.Length >= _kept.Length ? bytes : seam[..(_keptLength + head)];
        _keptLength = Math.Min(source.Length, _kept.Length);
        source[^_keptLength..].CopyTo(_kept);
    }
}
