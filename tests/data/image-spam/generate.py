#!/usr/bin/env python3
"""Generates the image-spam set: RFC 5322 messages whose pitch is only in a picture.

    python3 tests/data/image-spam/generate.py [OUT_DIR]

OUT_DIR defaults to the directory of this script. It writes

    train/spam/*.eml  train/ham/*.eml   for teaching bayes (`moat learn`)
    test/spam/*.eml   test/ham/*.eml    for measuring (`moat check`)

Spam: an image carrying the pitch (pills, crypto, loans, prizes, fake goods, phishing,
dating, jobs, ...) and a short innocent text part ("poison" for Bayes). Ham: an image of
ordinary text (invoices, event flyers, notes, receipts, schedules) and an ordinary body.
Both classes share the same header and MIME generators (names, domains, mailers,
structures), so only the content tells them apart.

The two sets are disjoint on purpose: the test set uses other sentences (no pitch line of
train occurs in test, and none of test's lines holds a phrase of the ocr plugin's
built-in list), other fonts, sizes, colours, backgrounds, and JPEG quality and noise.
Deterministic: one fixed seed; the output depends only on this file, Pillow's renderer
and encoders, and the fonts.

Needs Python 3.9+, Pillow (Debian: python3-pil) and the DejaVu fonts (Debian:
fonts-dejavu-core for Sans, Serif and Mono; fonts-dejavu-extra for the condensed,
oblique and light faces the test set uses).
"""

import base64
import io
import random
import sys
from email.utils import format_datetime
from datetime import datetime, timedelta, timezone
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

SEED = 25_6
FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")

# Fonts by set: the test set never uses a face of the train set.
TRAIN_FONTS = ["DejaVuSans.ttf", "DejaVuSans-Bold.ttf", "DejaVuSerif.ttf"]
TEST_FONTS = [
    "DejaVuSansCondensed.ttf",
    "DejaVuSansCondensed-Bold.ttf",
    "DejaVuSerif-Bold.ttf",
    "DejaVuSerifCondensed-Italic.ttf",
    "DejaVuSansMono.ttf",
    "DejaVuSansMono-Bold.ttf",
    "DejaVuSans-Oblique.ttf",
    "DejaVuSans-BoldOblique.ttf",
]

# ---------------------------------------------------------------------------------------
# Image text. Each topic: headlines and pitch lines, one pool for train and one for test.
# The test lines avoid the ocr plugin's phrase list (plugins/ocr/src/phrases.rs).

SPAM_TRAIN = {
    "pharmacy": (
        ["Discount Pharmacy Outlet", "Generic Meds Direct"],
        [
            "Brand name medication at generic cost",
            "Pain relief and sleep aids shipped overnight",
            "Discreet packaging, no doctor visit needed",
            "Save up to 85% on your monthly prescriptions",
            "Trusted by thousands of satisfied customers",
            "Fast worldwide shipping on every order",
        ],
    ),
    "crypto": (
        ["Crypto Profit Alert", "Bitcoin Wealth Club"],
        [
            "Our trading robot turns $250 into $4,800 a week",
            "Join the members earning daily passive income",
            "Guaranteed returns with zero experience",
            "Deposit today and watch your balance grow",
            "Limited spots left in the private investor group",
            "Withdraw your profits any time",
        ],
    ),
    "loan": (
        ["Instant Cash Approval", "Fast Personal Loans"],
        [
            "Get up to $5,000 deposited by tomorrow",
            "Bad credit accepted, approval in minutes",
            "No paperwork and no hidden fees",
            "Consolidate your bills into one low payment",
            "Apply online in under two minutes",
            "Pre-approved offer reserved in your name",
        ],
    ),
    "prize": (
        ["Congratulations!", "Official Prize Notice"],
        [
            "Your email address was selected in our annual draw",
            "You are entitled to a brand new iPhone",
            "To receive your gift pay only the shipping fee",
            "Reply with your full name and postal address",
            "This award expires in 48 hours",
            "Reference number GX-2291-A",
        ],
    ),
    "goods": (
        ["Luxury Brands 90% Off", "Designer Outlet Sale"],
        [
            "Swiss made luxury timepieces at factory prices",
            "Designer handbags and sunglasses clearance",
            "Identical to the original, a fraction of the price",
            "Free gift box with every purchase",
            "Ships from our warehouse in 3 days",
            "Visit our online store now",
        ],
    ),
    "phishing": (
        ["Security Notice", "Mailbox Storage Full"],
        [
            "Unusual sign-in activity was detected on your account",
            "Your access will be limited within 24 hours",
            "Confirm your identity to restore full access",
            "Log in with your email and password below",
            "Failure to respond will lead to permanent closure",
            "Customer Protection Department",
        ],
    ),
    "dating": (
        ["Lonely Tonight?", "Local Girls Waiting"],
        [
            "Beautiful women in your area want to chat",
            "Sign up free and see who is online now",
            "Discreet encounters, no strings attached",
            "Over 2 million members near you",
            "Send a wink and get a reply tonight",
        ],
    ),
    "jobs": (
        ["Hiring Now: Remote Assistants", "Easy Online Job"],
        [
            "Earn $500 a day from your laptop",
            "No experience or interview required",
            "Just two hours of your time each day",
            "Weekly payouts straight to your bank",
            "Thousands already quit their day job",
        ],
    ),
    "stock": (
        ["Breakout Stock Pick", "Urgent Investor Update"],
        [
            "Shares of QMXR are set to explode this week",
            "Insiders expect a 400% jump after the announcement",
            "Get in before the news goes public",
            "Our last pick tripled in five days",
            "Target price $3.80, current price $0.42",
        ],
    ),
    "software": (
        ["OEM Software Sale", "Cheap Software Downloads"],
        [
            "Office suites and photo editors from $19",
            "Full versions with genuine license keys",
            "Instant download after payment",
            "Save hundreds on professional software",
        ],
    ),
}

SPAM_TEST = {
    "pharmacy": (
        ["Meds Without The Markup", "Canadian Drugstore Deals"],
        [
            "Top quality tablets for a tiny fraction of retail",
            "Anxiety, insomnia and pain treatments in stock",
            "Skip the clinic, your package arrives in plain wrapping",
            "Reorder anytime and keep saving every month",
            "Licensed generics delivered to your door",
            "Bulk discounts on all blister packs",
        ],
    ),
    "crypto": (
        ["Wallet Multiplier Program", "Blockchain Fortune Fund"],
        [
            "Send 0.1 BTC and receive 0.5 BTC back instantly",
            "Our algorithm earns while you sleep",
            "Profits of 12% per day, paid automatically",
            "Members turned small deposits into six figures",
            "The window closes at midnight, secure your slot",
            "Scan the QR code to fund your wallet",
        ],
    ),
    "loan": (
        ["Cash Advance Approved", "Borrow Up To $10,000"],
        [
            "Funds land in your checking account within hours",
            "Poor credit history? We still say yes",
            "One tiny monthly repayment for all your debts",
            "Instant decision, zero documents to upload",
            "Your pre-qualified offer is waiting",
        ],
    ),
    "prize": (
        ["Lucky Draw Result", "Reward Center Notification"],
        [
            "Your address was picked to receive a free tablet",
            "Pay the small handling fee to release the parcel",
            "Send your bank details to collect the award",
            "Our records show an unclaimed sum of $850,000",
            "Respond within two days or the award is cancelled",
        ],
    ),
    "goods": (
        ["Prestige Timepieces Clearance", "Handbag Warehouse Blowout"],
        [
            "Perfect copies of famous luxury brands",
            "Same weight, same engraving, for under $200",
            "Genuine leather purses at unbeatable discounts",
            "Only a few pieces left in our stockroom",
        ],
    ),
    "phishing": (
        ["Payment Declined", "Final Warning From IT Helpdesk"],
        [
            "We could not process your latest billing information",
            "Your mailbox will be deactivated today",
            "Sign in through the secure portal to keep your access",
            "Re-enter your card number to avoid interruption",
            "Ignore this message and your files will be deleted",
        ],
    ),
    "dating": (
        ["She Is Looking For You", "Flirty Neighbours Nearby"],
        [
            "Attractive ladies just two miles from your home",
            "Create a profile and start chatting in seconds",
            "Private photos unlocked for new members",
            "No subscription needed to say hello",
        ],
    ),
    "jobs": (
        ["Secret Shopper Wanted", "Home Based Income Opportunity"],
        [
            "Pocket $3,000 weekly typing simple forms",
            "Turn your spare hours into serious cash",
            "Quit the commute and fire your manager",
            "Start today, payment every Friday",
        ],
    ),
    "stock": (
        ["Small Cap Rocket", "Trading Tip Of The Month"],
        [
            "Ticker VBLZ about to skyrocket after buyout news",
            "Analysts whisper about a tenfold gain",
            "Load up on shares before Monday's opening bell",
            "Early buyers already pocketed huge gains",
        ],
    ),
    "supplement": (
        ["Burn Fat While You Sleep", "Miracle Slimming Formula"],
        [
            "Drop four dress sizes in three weeks",
            "Doctors hate this simple morning trick",
            "No exercise and no dieting required",
            "Natural capsules that melt belly fat",
        ],
    ),
}

HAM_TRAIN = [
    ("invoice", ["INVOICE 2024-118", "Bill to: Harper & Lane Ltd",
                 "Website maintenance, 6 hours   $480.00",
                 "Hosting renewal, 12 months   $96.00",
                 "Total due within 30 days   $576.00"]),
    ("invoice", ["Invoice No. 5531", "Kitchen tiles and grout   EUR 312.40",
                 "Labour, 2 days   EUR 640.00", "VAT 21%   EUR 199.96",
                 "Please pay by bank transfer"]),
    ("flyer", ["Spring Book Fair", "Saturday 12 April, 10am to 4pm",
               "Town Hall, Market Street", "Second-hand books, coffee and cake",
               "All proceeds go to the school library"]),
    ("flyer", ["Community Garden Open Day", "Plant swap, compost workshop",
               "Sunday 3pm at the allotments behind the church",
               "Bring gloves and a friend"]),
    ("notes", ["Meeting notes - project kickoff", "1. Agree scope for phase one",
               "2. Sarah to draft the timeline by Friday",
               "3. Next review on the 14th", "Budget question still open"]),
    ("notes", ["Shopping list", "milk, eggs, rye bread", "tomatoes and basil",
               "washing powder", "birthday card for Mum"]),
    ("receipt", ["CORNER BAKERY", "2 croissants   3.80", "1 sourdough loaf   4.50",
                 "Flat white   3.20", "TOTAL   11.50", "Thank you, see you soon"]),
    ("schedule", ["Swimming lessons - autumn term", "Mondays 17:30 beginners",
                  "Wednesdays 18:15 improvers", "Fridays 17:00 squad training",
                  "Bring a towel and a padlock"]),
    ("recipe", ["Grandma's lentil soup", "200 g red lentils, 1 onion, 2 carrots",
                "Simmer 25 minutes with stock", "Season with cumin and lemon"]),
    ("ticket", ["Boarding pass", "Flight BA 2741  Gate 22", "Seat 14C  Boarding 09:35",
                "London Gatwick to Lisbon"]),
    ("notes", ["Whiteboard - sprint retro", "Went well: release on time",
               "To improve: flaky tests in CI", "Action: pair on test fixes"]),
    ("flyer", ["Yoga in the Park", "Every Thursday at 7pm", "Beginners welcome",
               "Bring your own mat, donations appreciated"]),
]

HAM_TEST = [
    ("invoice", ["Tax invoice #A-7781", "Garden fence repair   GBP 220.00",
                 "Timber and fixings   GBP 85.50", "Amount payable   GBP 305.50",
                 "Account name: R. Okafor Carpentry"]),
    ("invoice", ["Statement for October", "Piano lessons x4   160.00",
                 "Sheet music   18.00", "Balance outstanding   178.00",
                 "Thank you for your prompt payment"]),
    ("flyer", ["Neighbourhood Street Party", "Saturday 21 June from noon",
               "Road closed between No. 4 and No. 40", "Barbecue, music and games for kids",
               "Volunteers please sign up at No. 12"]),
    ("flyer", ["Choir Concert", "St Mary's Church, Friday 7:30pm",
               "Music by Handel and Vivaldi", "Tickets at the door"]),
    ("notes", ["Notes from parents evening", "Reading is coming along well",
               "Needs practice with fractions", "Next meeting in March"]),
    ("notes", ["To do this week", "call the plumber about the boiler",
               "renew car insurance", "pick up dry cleaning on Thursday",
               "book dentist appointment"]),
    ("receipt", ["HARDWARE STORE", "Paint roller   6.99", "Masking tape   2.49",
                 "White emulsion 5L   24.00", "Card payment   33.48"]),
    ("schedule", ["Bin collection calendar", "Recycling: every other Tuesday",
                  "Garden waste: first Monday of the month",
                  "General waste: weekly on Friday"]),
    ("recipe", ["Banana bread", "3 ripe bananas, 75 g melted butter",
                "150 g sugar, 1 egg, 190 g flour", "Bake 60 minutes at 175 C"]),
    ("ticket", ["Train ticket", "Leeds to York, off-peak return",
                "Coach C, seat 42", "Valid on 18 May only"]),
    ("notes", ["Minutes of the residents committee", "Attendance: nine members",
               "Agreed to repaint the stairwell", "Treasurer reported a surplus of 420",
               "Next meeting on the first Wednesday"]),
    ("screenshot", ["Calendar - Tuesday", "09:00 Stand-up", "11:30 Dentist",
                    "14:00 Review with finance team", "16:00 Pick up kids"]),
    ("flyer", ["Lost cat", "Grey tabby called Pepper", "Last seen on Elm Road",
               "Please call Jo if you see her"]),
]

# A second, larger training pool (written after the first two sets, so their bytes do not
# change): more topics and more ways of saying each pitch, as an operator's Bayes sees
# after some months of image spam. `check_disjoint` keeps every line of it free of any
# three-word run of a test line.

SPAM_TRAIN_MORE = {
    "pharmacy": (
        ["Online Pharmacy Specials", "Cheap Prescription Drugs", "Rx Savings Club"],
        [
            "Buy your medications online and save big",
            "Painkillers, sleeping pills and antibiotics available",
            "Order without a prescription today",
            "Lowest prices on brand and generic drugs",
            "Shipped in a plain envelope, no questions asked",
            "Express delivery worldwide, satisfaction guaranteed",
            "Refill your pills at half the pharmacy price",
            "Men's health products at wholesale cost",
            "Secure checkout, we accept all major cards",
            "Our licensed pharmacists ship within a day",
        ],
    ),
    "crypto": (
        ["Double Your Bitcoin", "Crypto Millionaire Secret", "Token Presale Now Live"],
        [
            "Invest in the next coin before it takes off",
            "Our bot trades for you around the clock",
            "Members earn thousands of dollars every week",
            "Risk free profits from the crypto market",
            "Transfer your coins and we double them",
            "Early investors made a fortune, you are next",
            "Presale price ends this Friday",
            "Make money online with digital currency",
            "Guaranteed daily payouts to your wallet",
            "Join now and claim your bonus tokens",
        ],
    ),
    "loan": (
        ["Loan Approved", "Need Cash Fast?", "Lower Your Payments"],
        [
            "Approval guaranteed whatever your credit score",
            "Borrow money today and repay over five years",
            "Refinance your mortgage at the lowest rate",
            "Money wired to your bank account the same day",
            "No credit check and no collateral",
            "Clear your debt with one easy loan",
            "Your application has been pre-approved",
            "Quick cash for any purpose",
            "Rates as low as 2.9% for a limited time",
            "Fill in the short form to get your money",
        ],
    ),
    "prize": (
        ["You Are A Winner", "Claim Your Reward", "Winning Notification"],
        [
            "You have won a cash prize of $1,000,000",
            "Your ticket number won the international lottery",
            "Collect your free gift card now",
            "A free laptop is reserved for you",
            "Contact our claims agent to receive your winnings",
            "Provide your bank account for the transfer",
            "Only a processing fee stands between you and your prize",
            "Winners must respond before the deadline",
            "Selected customers receive an exclusive reward",
            "Confirm your details to get your prize",
        ],
    ),
    "goods": (
        ["Replica Watches Sale", "Brand Name Fashion Deals", "Factory Direct Prices"],
        [
            "Replica watches that look like the real thing",
            "Famous brands at wholesale prices",
            "Rolex, Cartier and Omega from $99",
            "Top quality copies, nobody can tell",
            "Sunglasses, shoes and bags at huge discounts",
            "Clearance sale, everything must go",
            "Order two and get the third one free",
            "Free shipping on orders over $150",
            "Best prices on luxury items guaranteed",
            "Shop now before stock runs out",
        ],
    ),
    "phishing": (
        ["Account Suspended", "Verify Your Account", "Urgent Account Notice"],
        [
            "We detected suspicious activity on your bank account",
            "Your account has been temporarily suspended",
            "Verify your account information to avoid closure",
            "Update your billing details immediately",
            "Click the link and enter your password",
            "Your mailbox has exceeded its storage limit",
            "Confirm your login to keep receiving messages",
            "Your payment could not be completed",
            "Security team, online banking services",
            "Your card will be blocked unless you act",
        ],
    ),
    "dating": (
        ["Hot Singles Near You", "Meet Women Tonight", "Someone Likes You"],
        [
            "Thousands of single women are waiting to meet you",
            "Chat with sexy girls in your town",
            "Adult dating for grown ups, completely discreet",
            "Find a date tonight, join for free",
            "Horny housewives want to meet you",
            "See her private profile and photos",
            "Real women, real encounters, no commitment",
            "Your match sent you a message",
            "Sign up in one minute and start flirting",
            "Lonely ladies are online right now",
        ],
    ),
    "jobs": (
        ["Work From Home", "Make Money Online", "Be Your Own Boss"],
        [
            "Make $5,000 a month working from home",
            "Earn extra income in your spare time",
            "No skills needed, we train you",
            "Get paid to fill in online surveys",
            "Financial freedom starts today",
            "Part time work with full time pay",
            "Mystery shoppers needed in your area",
            "Stop working for someone else",
            "Earn money with just your computer",
            "Get paid every week, guaranteed",
        ],
    ),
    "stock": (
        ["Hot Stock Alert", "Penny Stock Breakout", "Investor Alert"],
        [
            "This stock is about to go through the roof",
            "Huge gains expected for shareholders",
            "Buy before the big announcement",
            "The share price could triple by next week",
            "Strong buy rating, massive upside",
            "Watch this symbol on Monday morning",
            "Investors are rushing to buy this company",
            "Get in now at a low price",
            "Stock price about to rise after the merger",
            "Our newsletter picks make investors rich",
        ],
    ),
    "software": (
        ["Software Clearance", "Download Software Cheap", "Genuine Software Deals"],
        [
            "All popular software at rock bottom prices",
            "Windows and Office at unbeatable prices",
            "Download now and save up to 90%",
            "Adobe programs for only $29",
            "Lifetime license, instant activation",
            "Every title heavily discounted",
            "Buy software online and download today",
            "Licensed copies, full versions",
        ],
    ),
    "slimming": (
        ["Lose Weight Fast", "Weight Loss Breakthrough", "Diet Pills That Work"],
        [
            "Lose 20 pounds in 30 days",
            "Burn calories without dieting or exercise",
            "The pill that melts away your fat",
            "Get a flat stomach in two weeks",
            "Clinically proven weight loss formula",
            "Reduce your appetite and lose weight",
            "Slim down fast with our natural herbal formula",
            "Thousands have lost weight with our product",
            "Order your free trial bottle now",
        ],
    ),
}

HAM_TRAIN_MORE = [
    ("invoice", ["INVOICE 0412", "Consulting services, March   $1,200.00",
                 "Travel expenses   $143.20", "Total   $1,343.20",
                 "Payment terms: 14 days"]),
    ("invoice", ["Invoice 77-301", "Boiler service and parts   165.00",
                 "Call-out charge   45.00", "Total due   210.00",
                 "Sort code and account number below"]),
    ("invoice", ["Rechnung / Invoice 2291", "Translation, 3,400 words   EUR 340.00",
                 "Proofreading   EUR 60.00", "Total   EUR 400.00"]),
    ("flyer", ["Summer Fete", "Saturday 6 July, 12 till 5", "Tombola, cake stall and dog show",
               "Village green, free entry"]),
    ("flyer", ["Film Night", "Friday 8pm in the parish hall", "Popcorn and drinks on sale",
               "Tickets 5 pounds, children free"]),
    ("flyer", ["Charity Fun Run", "5 km around the lake", "Sunday 10am, registration from 9",
               "Raising money for the hospice"]),
    ("flyer", ["Jumble Sale", "Toys, clothes, books and bric-a-brac",
               "Scout hut, Saturday morning", "Donations welcome on Friday evening"]),
    ("notes", ["Agenda for Thursday", "1. Welcome and apologies", "2. Minutes of last meeting",
               "3. Budget for next year", "4. Any other business"]),
    ("notes", ["Packing list for camping", "tent, sleeping bags, torch",
               "stove and gas", "first aid kit", "rain jackets"]),
    ("notes", ["Lecture notes week 5", "Photosynthesis takes place in chloroplasts",
               "Light reactions and the Calvin cycle", "Read chapter 8 before Monday"]),
    ("notes", ["Wifi details for guests", "Network: GardenFlat", "Password on the fridge",
               "Router is in the hall cupboard"]),
    ("receipt", ["PETROL STATION", "Unleaded 42.3 litres   61.40", "Car wash   8.00",
                 "Total   69.40", "Paid by debit card"]),
    ("receipt", ["BOOKSHOP", "Paperback novel   8.99", "Road atlas   12.50",
                 "Total   21.49", "Thanks for shopping locally"]),
    ("receipt", ["CAFE ROMA", "2 x cappuccino   6.40", "Toasted sandwich   5.90",
                 "Total   12.30", "Service not included"]),
    ("schedule", ["Football training", "Under 10s: Tuesday 6pm", "Under 12s: Thursday 6pm",
                  "Matches on Saturday mornings", "Shin pads are required"]),
    ("schedule", ["Office cover rota", "Monday: Priya", "Tuesday: Tom", "Wednesday: Alex",
                  "Thursday and Friday: Joan"]),
    ("schedule", ["Conference programme", "09:30 Registration and coffee",
                  "10:00 Opening keynote", "12:30 Lunch", "14:00 Workshops"]),
    ("recipe", ["Pancakes", "100 g plain flour, 2 eggs", "300 ml milk, pinch of salt",
                "Rest the batter for half an hour"]),
    ("recipe", ["Tomato sauce", "2 tins of tomatoes, 3 cloves of garlic",
                "Olive oil and fresh basil", "Cook gently for 40 minutes"]),
    ("ticket", ["Concert ticket", "Royal Albert Hall", "Stalls, row K, seat 17",
                "Doors open 7pm"]),
    ("ticket", ["Ferry booking", "Portsmouth to Caen", "Vehicle: car, 2 adults",
                "Check in 60 minutes before departure"]),
    ("screenshot", ["Messages", "Dad: are we still on for Sunday lunch?",
                    "Me: yes, 1pm at ours", "Dad: great, I'll bring dessert"]),
    ("screenshot", ["Order status", "Your parcel is out for delivery",
                    "Expected between 10:00 and 14:00", "Tracking number on the app"]),
    ("screenshot", ["Weather forecast", "Saturday: sunny intervals, 19 C",
                    "Sunday: light rain, 15 C", "Wind from the south west"]),
    ("invoice", ["Quote for decorating", "Living room, two coats   380.00",
                 "Hallway and landing   290.00", "Materials included", "Valid for 30 days"]),
    ("invoice", ["Membership renewal", "Tennis club, family membership   210.00",
                 "Court booking credit   25.00", "Please pay before 1 April"]),
    ("flyer", ["Allotment Society AGM", "Wednesday 7:30pm, community centre",
               "Election of officers", "Seed potatoes on sale"]),
    ("flyer", ["Babysitting", "Reliable student, first aid trained",
               "Evenings and weekends", "References available"]),
    ("notes", ["Dentist instructions", "No hot drinks for two hours",
               "Rinse with salt water tomorrow", "Call if the pain gets worse"]),
    ("notes", ["Car service checklist", "oil and filter changed", "brake pads at 40%",
               "tyres fine", "next service in 12 months"]),
    ("receipt", ["GARDEN CENTRE", "Compost 3 bags   15.00", "Lavender plants x4   12.00",
                 "Total   27.00", "Returns within 28 days with receipt"]),
    ("schedule", ["Holiday club timetable", "Monday: arts and crafts",
                  "Tuesday: swimming trip", "Wednesday: nature walk", "Thursday: baking"]),
    ("recipe", ["Flapjacks", "250 g oats, 125 g butter", "125 g brown sugar, 3 tbsp syrup",
                "Bake 20 minutes, cut while warm"]),
    ("screenshot", ["Bank app - recent", "Council tax   -112.00", "Salary   +2,140.00",
                    "Supermarket   -64.35", "Balance   1,873.12"]),
]


# ---------------------------------------------------------------------------------------
# Bodies. Spam's text part is innocent on purpose: it is there to poison Bayes.

SPAM_BODIES_TRAIN = [
    "The river was high after the rain and the boats stayed in the harbour.",
    "She folded the letter twice and placed it in the drawer by the window.",
    "Hope you had a good weekend.",
    "See the picture below.",
    "The committee met on Tuesday to discuss the garden and the new benches.",
    "He walked along the old road until the lights of the village appeared.",
    "Thanks again for your help last week.",
    "The library will be closed for repairs until the end of the month.",
    "Morning coffee tastes better when the sun is out.",
    "Let me know what you think.",
]

SPAM_BODIES_TEST = [
    "The orchard smelled of apples and the dog slept under the oak tree.",
    "Grandfather kept his tools in a wooden box near the back door.",
    "Have a look when you get a chance.",
    "The train was late again, so we read our books on the platform.",
    "Cheers, talk soon.",
    "Autumn leaves covered the path to the little stone bridge.",
    "I found this and thought of you.",
    "The museum opens a new exhibition on ancient maps next spring.",
    "Please see the attached image.",
    "Our neighbours painted their fence a lovely shade of blue.",
]

HAM_BODIES_TRAIN = {
    "invoice": ["Hi, please find the invoice attached. Let me know if anything looks wrong.",
                "Invoice attached, thanks for your business."],
    "flyer": ["Here is the flyer for the weekend, feel free to pass it on.",
              "Could you put this up on the noticeboard? Thanks!"],
    "notes": ["Photo of the notes from today, so nobody has to retype them.",
              "Snapped this so I don't lose it."],
    "receipt": ["Receipt for the expenses claim.", "Scanned receipt attached."],
    "schedule": ["The new timetable, in case you missed it.",
                 "Schedule for the term attached."],
    "recipe": ["The recipe you asked for at dinner.", "Here you go, enjoy!"],
    "ticket": ["Boarding pass for your records.", "Ticket attached, see you there."],
}

HAM_BODIES_TEST = {
    "invoice": ["Hello, the invoice for last month's work is in the picture. Many thanks.",
                "Attached is the statement. Bank details are on the bottom line."],
    "flyer": ["Would be great to see you there. Kids are very welcome.",
              "Sharing the poster, please forward to anyone who might come."],
    "notes": ["I took a photo of my notes, hope it is readable.",
              "Quick picture of the list so we remember."],
    "receipt": ["Picture of the receipt for the shared costs.",
                "For the accounts, the receipt is below."],
    "schedule": ["Stick this on the fridge so we don't forget.",
                 "Here is the calendar the council sent round."],
    "recipe": ["As promised, the recipe. It freezes well too.",
               "My mother's recipe, photographed from her card."],
    "ticket": ["Ticket for Saturday, keep it on your phone.",
               "Your ticket is in the image below."],
    "screenshot": ["Screenshot of my calendar for tomorrow, does 2pm still work?",
                   "Sent from my phone, screenshot below."],
}

HAM_BODIES_TRAIN_MORE = dict(HAM_BODIES_TRAIN, screenshot=[
    "Screenshot attached, see what you think.", "Took a screenshot of this for you."])

SPAM_SUBJECTS = ["hello", "Re: our talk", "for you", "photo", "update", "quick note",
                 "Re: Re: question", "see this", "hi there", "information"]
HAM_SUBJECT = {
    "invoice": ["Invoice", "Your invoice", "Statement"],
    "flyer": ["Flyer for Saturday", "Poster", "Event this weekend"],
    "notes": ["notes", "Notes from today", "list"],
    "receipt": ["receipt", "Expenses"],
    "schedule": ["timetable", "Schedule"],
    "recipe": ["recipe", "The recipe"],
    "ticket": ["ticket", "Your ticket"],
    "screenshot": ["tomorrow", "calendar"],
}

FIRST = ["Anna", "Ben", "Chloe", "David", "Elena", "Farid", "Grace", "Hugo", "Ines", "Jonas",
         "Kate", "Liam", "Maya", "Noah", "Olga", "Pavel", "Rosa", "Sam", "Tara", "Umar"]
LAST = ["Meyer", "Novak", "Smith", "Garcia", "Kowalski", "Brown", "Rossi", "Dubois",
        "Jensen", "Okafor", "Silva", "Walsh", "Ivanova", "Khan", "Moreau"]
DOMAINS = ["mailhost.example", "example.net", "post.example.org", "inbox.example.com",
           "webmail.example", "home.example.net", "office.example.org", "mx.example"]
MAILERS = [None, "Thunderbird 115.3", "Apple Mail (2.3731)", "Microsoft Outlook 16.0",
           "K-9 Mail 6.7"]

# ---------------------------------------------------------------------------------------
# Rendering.

TRAIN_STYLE = dict(
    fonts=TRAIN_FONTS, size=(18, 24), width=(440, 580),
    palettes=[((0, 0, 0), (255, 255, 255)), ((20, 20, 120), (250, 250, 235)),
              ((120, 0, 0), (255, 255, 210))],
    jpeg=(85, 95), noise=(0, 0), jpeg_share=0.3, tilt=0.0,
)
# The second training pool: the training faces plus an italic one, some grey noise and
# more JPEG, so that Bayes also learns the words as OCR misreads them.
TRAIN_MORE_STYLE = dict(
    fonts=TRAIN_FONTS + ["DejaVuSerif-Italic.ttf"], size=(18, 26), width=(440, 640),
    palettes=[((0, 0, 0), (255, 255, 255)), ((20, 20, 120), (250, 250, 235)),
              ((120, 0, 0), (255, 255, 210)), ((255, 255, 255), (40, 40, 40))],
    jpeg=(60, 90), noise=(0, 10), jpeg_share=0.5, tilt=0.0,
)
TEST_STYLE = dict(
    fonts=TEST_FONTS, size=(17, 30), width=(440, 720),
    palettes=[((255, 255, 255), (20, 40, 90)), ((0, 70, 0), (225, 245, 225)),
              ((60, 0, 80), (255, 230, 240)), ((0, 0, 0), (210, 225, 240)),
              ((250, 250, 250), (120, 35, 35)), ((30, 30, 30), (245, 245, 245))],
    jpeg=(30, 60), noise=(6, 24), jpeg_share=0.6, tilt=1.5,
)


def wrap(draw, font, text, width):
    words, lines, line = text.split(), [], ""
    for word in words:
        candidate = f"{line} {word}".strip()
        if draw.textlength(candidate, font=font) <= width or not line:
            line = candidate
        else:
            lines.append(line)
            line = word
    if line:
        lines.append(line)
    return lines


def gradient(size, top, rng):
    """A vertical gradient from `top` to a slightly shifted colour."""
    width, height = size
    shift = [rng.randint(-30, 30) for _ in range(3)]
    bottom = tuple(max(0, min(255, c + s)) for c, s in zip(top, shift))
    column = Image.new("RGB", (1, height))
    for y in range(height):
        t = y / max(1, height - 1)
        column.putpixel((0, y), tuple(int(a + (b - a) * t) for a, b in zip(top, bottom)))
    return column.resize((width, height))


def render(lines, style, rng):
    """The image bytes and media type for these lines of text."""
    face = rng.choice(style["fonts"])
    size = rng.randint(*style["size"])
    width = rng.randint(*style["width"])
    ink, paper = rng.choice(style["palettes"])
    head_font = ImageFont.truetype(str(FONT_DIR / face), int(size * 1.35))
    font = ImageFont.truetype(str(FONT_DIR / face), size)
    probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    margin = rng.randint(20, 40)
    rows = []
    for n, line in enumerate(lines):
        use = head_font if n == 0 else font
        rows += [(row, use) for row in wrap(probe, use, line, width - 2 * margin)]
    gap = int(size * 0.6)
    height = 2 * margin + sum(use.size + gap for _, use in rows)
    if style["noise"][1] > 0 and rng.random() < 0.5:
        image = gradient((width, height), paper, rng)
    else:
        image = Image.new("RGB", (width, height), paper)
    draw = ImageDraw.Draw(image)
    y = margin
    centred = rng.random() < 0.5
    for row, use in rows:
        length = draw.textlength(row, font=use)
        x = (width - length) / 2 if centred else margin
        draw.text((x, y), row, font=use, fill=ink)
        y += use.size + gap
    if style["tilt"]:
        angle = rng.uniform(-style["tilt"], style["tilt"])
        image = image.rotate(angle, resample=Image.BICUBIC, expand=True, fillcolor=paper)
    sigma = rng.randint(*style["noise"]) if style["noise"][1] else 0
    if sigma:
        noise = Image.frombytes("L", image.size, rng.randbytes(image.size[0] * image.size[1]))
        noise = Image.merge("RGB", (noise, noise, noise))
        image = Image.blend(image, noise, sigma / 255)
    out = io.BytesIO()
    if rng.random() < style["jpeg_share"] or sigma:
        image.save(out, "JPEG", quality=rng.randint(*style["jpeg"]))
        return out.getvalue(), "image/jpeg", "jpg"
    image = image.quantize(colors=16)
    image.save(out, "PNG", optimize=True)
    return out.getvalue(), "image/png", "png"


# ---------------------------------------------------------------------------------------
# Messages. Written by hand (not with the email package) so that boundaries and every
# byte are fixed by the seed.


def b64(data):
    text = base64.b64encode(data).decode()
    return "\n".join(text[i:i + 76] for i in range(0, len(text), 76))


def headers(rng, subject, serial, when):
    sender = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
    local = sender.lower().replace(" ", rng.choice([".", "_", ""]))
    domain = rng.choice(DOMAINS)
    rcpt = f"{rng.choice(FIRST).lower()}@example.org"
    lines = [
        f"Return-Path: <{local}@{domain}>",
        f"Received: from [{rng.choice(['192.0.2', '198.51.100', '203.0.113'])}."
        f"{rng.randint(2, 250)}] (helo={domain}) by mx.example.org with ESMTP; "
        f"{format_datetime(when)}",
        f"From: {sender} <{local}@{domain}>",
        f"To: {rcpt}",
        f"Subject: {subject}",
        f"Date: {format_datetime(when)}",
        None,  # Message-ID, shaped by the mailer below
        "MIME-Version: 1.0",
    ]
    bits = rng.getrandbits(64)
    mailer = rng.choice(MAILERS)
    lines[lines.index(None)] = f"Message-ID: <{message_id(bits, serial, domain, mailer, when)}>"
    if mailer:
        lines.append(f"X-Mailer: {mailer}")
    return lines


def message_id(bits, serial, domain, mailer, when):
    """The Message-ID the mailer writes: Outlook's own shape for Outlook (its creation time
    as a FILETIME, then `$@`), a generic one for the rest."""
    if mailer and mailer.startswith("Microsoft Outlook"):
        filetime = (int(when.timestamp()) + 11644473600) * 10_000_000
        return (f"0000{filetime >> 32:08x}${filetime & 0xffffffff:08x}"
                f"${bits & 0xffffffff:08x}$@{domain}")
    return f"{bits:016x}.{serial}@{domain}"


def message(rng, subject, body, image, serial, when):
    data, media, ext = image
    boundary = f"=_part_{rng.getrandbits(48):012x}"
    inner = f"=_alt_{rng.getrandbits(48):012x}"
    name = f"{rng.choice(['image', 'scan', 'photo', 'IMG_' + str(rng.randint(1000, 9999))])}.{ext}"
    cid = f"{rng.getrandbits(32):08x}@{rng.choice(DOMAINS)}"
    html = f"<html><body><p>{body}</p><img src=\"cid:{cid}\" alt=\"\"></body></html>"
    image_part = lambda disposition: [
        f"Content-Type: {media}; name=\"{name}\"",
        "Content-Transfer-Encoding: base64",
        f"Content-Disposition: {disposition}; filename=\"{name}\"",
        *([f"Content-ID: <{cid}>"] if disposition == "inline" else []),
        "",
        b64(data),
    ]
    text_part = ["Content-Type: text/plain; charset=utf-8",
                 "Content-Transfer-Encoding: 7bit", "", body]
    html_part = ["Content-Type: text/html; charset=utf-8",
                 "Content-Transfer-Encoding: 7bit", "", html]
    shape = rng.choice(["mixed", "related", "related-alternative"])
    out = headers(rng, subject, serial, when)
    if shape == "mixed":
        out += [f"Content-Type: multipart/mixed; boundary=\"{boundary}\"", "",
                f"--{boundary}", *text_part, f"--{boundary}", *image_part("attachment"),
                f"--{boundary}--"]
    elif shape == "related":
        out += [f"Content-Type: multipart/related; boundary=\"{boundary}\"; type=\"text/html\"",
                "", f"--{boundary}", *html_part, f"--{boundary}", *image_part("inline"),
                f"--{boundary}--"]
    else:
        out += [f"Content-Type: multipart/related; boundary=\"{boundary}\"", "",
                f"--{boundary}", f"Content-Type: multipart/alternative; boundary=\"{inner}\"",
                "", f"--{inner}", *text_part, f"--{inner}", *html_part, f"--{inner}--",
                f"--{boundary}", *image_part("inline"), f"--{boundary}--"]
    return "\n".join(out) + "\n"


def spam_lines(rng, topics):
    topic = rng.choice(sorted(topics))
    heads, pitch = topics[topic]
    count = rng.randint(2, min(4, len(pitch)))
    return [rng.choice(heads)] + rng.sample(pitch, count)


def spam_body(rng, pool):
    return " ".join(rng.sample(pool, rng.randint(1, 3)))


def write_set(root, name, rng, spam_count, ham_count, spam_topics, spam_bodies, hams,
              ham_bodies, style, start, first=0):
    """Writes `spam_count` spam and `ham_count` ham into `root/name`, numbered from
    `first`."""
    when = start
    for kind, count in (("spam", spam_count), ("ham", ham_count)):
        folder = root / name / kind
        folder.mkdir(parents=True, exist_ok=True)
        for n in range(count):
            when += timedelta(minutes=rng.randint(5, 400))
            serial = rng.randint(1000, 99999)
            if kind == "spam":
                lines = spam_lines(rng, spam_topics)
                subject = rng.choice(SPAM_SUBJECTS)
                body = spam_body(rng, spam_bodies)
            else:
                topic, lines = hams[n % len(hams)]
                subject = rng.choice(HAM_SUBJECT[topic])
                body = rng.choice(ham_bodies[topic])
            image = render(lines, style, rng)
            text = message(rng, subject, body, image, serial, when)
            (folder / f"{first + n:03}.eml").write_text(text, encoding="ascii", newline="\n")


def words(line):
    return [w for w in "".join(c if c.isalnum() else " " for c in line.lower()).split()]


def runs(line, n=3):
    w = words(line)
    return {tuple(w[i:i + n]) for i in range(len(w) - n + 1)}


def spam_text(pool):
    return [line for heads, lines in pool.values() for line in heads + lines]


def ham_text(pool):
    return [line for _, lines in pool for line in lines]


def check_disjoint(train, test):
    """Fails if a training line shares a run of three words with a test line: the test
    phrasing must be new to Bayes, only its vocabulary may be known."""
    test_runs = set().union(*(runs(line) for line in test))
    for line in train:
        shared = runs(line) & test_runs
        if shared:
            sys.exit(f"training line {line!r} shares {sorted(shared)} with the test set")


def main():
    root = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent
    check_disjoint(spam_text(SPAM_TRAIN) + spam_text(SPAM_TRAIN_MORE), spam_text(SPAM_TEST))
    check_disjoint(ham_text(HAM_TRAIN) + ham_text(HAM_TRAIN_MORE), ham_text(HAM_TEST))
    rng = random.Random(SEED)
    start = datetime(2025, 3, 3, 8, 0, tzinfo=timezone.utc)
    write_set(root, "train", rng, 32, 44, SPAM_TRAIN, SPAM_BODIES_TRAIN, HAM_TRAIN,
              HAM_BODIES_TRAIN, TRAIN_STYLE, start)
    write_set(root, "test", rng, 44, 22, SPAM_TEST, SPAM_BODIES_TEST, HAM_TEST,
              HAM_BODIES_TEST, TEST_STYLE, start + timedelta(days=30))
    write_set(root, "train", rng, 44, 120, SPAM_TRAIN_MORE, SPAM_BODIES_TRAIN,
              HAM_TRAIN_MORE, HAM_BODIES_TRAIN_MORE, TRAIN_MORE_STYLE,
              start - timedelta(days=60), first=100)


if __name__ == "__main__":
    main()
